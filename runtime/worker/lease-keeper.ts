// Keeps the leases of running jobs alive with in-progress acks, and notices when one was lost
// anyway (a blocked event loop let the ack wait pass), so the stale run is aborted and never
// acknowledges a delivery that JetStream has already handed to another worker.
import type { Delivery } from "../jetstream/delivery.ts";

export interface Lease {
  readonly msg: Delivery;
  /** When the lease was last renewed (or the job was received), ms since epoch. */
  renewedAt: number;
  /** Called once when the lease is found expired. */
  readonly onLost: () => void;
  lost: boolean;
}

export class LeaseKeeper {
  readonly #leases = new Set<Lease>();
  #timer: NodeJS.Timeout | undefined;

  /**
   * @param ackWaitMs the queue's lease length
   * @param now clock, injectable for tests
   */
  constructor(
    readonly ackWaitMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  hold(msg: Delivery, onLost: () => void): Lease {
    const lease: Lease = { msg, renewedAt: this.now(), onLost, lost: false };
    this.#leases.add(lease);
    if (this.#timer === undefined) {
      // A third of the ack wait leaves two renewals of slack before the server gives up on us.
      this.#timer = setInterval(() => this.renewAll(), Math.max(100, Math.floor(this.ackWaitMs / 3)));
      this.#timer.unref();
    }
    return lease;
  }

  release(lease: Lease): void {
    this.#leases.delete(lease);
    if (this.#leases.size === 0 && this.#timer !== undefined) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }

  /** True while the lease is still ours: checked again right before acknowledging. */
  isValid(lease: Lease): boolean {
    if (lease.lost) return false;
    if (this.now() - lease.renewedAt >= this.ackWaitMs) this.#markLost(lease);
    return !lease.lost;
  }

  renewAll(): void {
    const now = this.now();
    for (const lease of this.#leases) {
      if (!this.isValid(lease)) continue;
      lease.msg.working();
      lease.renewedAt = now;
    }
  }

  #markLost(lease: Lease): void {
    lease.lost = true;
    this.#leases.delete(lease);
    lease.onLost();
  }

  close(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#leases.clear();
  }
}
