// Which worker owns which partition of a keyed queue: one KV lease per partition, and a member
// entry per worker so each can work out its fair share (at most ceil(partitions / live workers)).
// A worker over its share hands partitions back once their running jobs finish; one under it takes
// free partitions, and those of a dead owner once its lease has gone unrenewed for a lease time.
// Every entry belongs to a partition or a live worker: a dead worker's member entry is deleted
// by the first worker that sees it unrenewed for a lease time, so nothing grows with keys or
// with the history of the fleet.
import type { KV } from "@nats-io/kv";
import type { Logger } from "pino";
import { Lease } from "../coordination/kv-lease.ts";
import { ownershipKeys, partitionOf } from "./partitions.ts";

export interface OwnershipOptions {
  kv: KV;
  queue: string;
  partitions: number;
  workerId: string;
  /** How long a silent owner keeps its partitions (the queue's ack wait). */
  leaseMs: number;
  logger: Logger;
  /** Starts serving a partition; `generation` is unique to this holding of its lease. */
  onAcquired(partition: number, generation: number): Promise<void>;
  /**
   * Stops serving a partition; resolves once none of its jobs runs here any more. `lost`: the
   * lease is gone already (another worker may own the partition now), so running jobs are aborted.
   */
  onReleasing(partition: number, lost: boolean): Promise<void>;
  /** After each round of renewals: partitions whose lease was briefly in doubt may go on. */
  onRenewed(): void;
}

export class PartitionOwnership {
  readonly #leases: Lease[];
  /** Partitions served here, including those being handed back. */
  readonly #serving = new Set<number>();
  readonly #handingBack = new Set<number>();
  /** Other workers' member entries: the revision last seen, and when (our clock) it was first seen. */
  readonly #members = new Map<string, { revision: number; seenAt: number }>();
  #timer: NodeJS.Timeout | undefined;
  #tick: Promise<void> = Promise.resolve();
  /** Stopping: keep renewing the partitions served (their jobs still run), take and give none. */
  #stopping = false;

  constructor(private readonly options: OwnershipOptions) {
    const { kv, queue, workerId, leaseMs, logger } = options;
    this.#leases = Array.from(
      { length: options.partitions },
      (_, partition) =>
        new Lease(
          kv,
          ownershipKeys.lease(queue, partition),
          workerId,
          {
            leaseMs,
            label: `partition ${partition} lease`,
          },
          logger.child({ partition }),
        ),
    );
  }

  /** True while this worker holds the partition's lease, as far as it knows. */
  holds(partition: number): boolean {
    return this.#leases[partition]?.held ?? false;
  }

  start(): void {
    this.#schedule();
    // A third of the lease time leaves two renewals of slack, as for job leases.
    this.#timer = setInterval(() => this.#schedule(), Math.max(100, Math.floor(this.options.leaseMs / 3)));
    this.#timer.unref();
  }

  #schedule(): void {
    this.#tick = this.#tick
      .then(() => this.#rebalance())
      .catch((error: unknown) => this.options.logger.warn({ err: error }, "partition ownership check failed"))
      .finally(() => this.options.onRenewed());
  }

  /**
   * Stops taking and handing back partitions; those served stay renewed until release(), so no
   * other worker starts a key whose job still runs here.
   */
  async stop(): Promise<void> {
    this.#stopping = true;
    await this.#tick;
  }

  /** Gives every lease back (their jobs are no longer running here) and leaves the membership. */
  async release(): Promise<void> {
    const { kv, queue, workerId } = this.options;
    this.#stopping = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    await this.#tick;
    await Promise.all([...this.#serving].map((partition) => this.#leases[partition]?.release()));
    this.#serving.clear();
    await kv.delete(ownershipKeys.member(queue, workerId)).catch(() => {});
  }

  async #rebalance(): Promise<void> {
    const now = Date.now();
    for (const partition of this.#serving) {
      if (!(await this.#leases[partition]?.tick(now))) this.#lose(partition);
    }
    if (this.#stopping) return;
    const share = Math.ceil(this.options.partitions / (await this.#liveWorkers(now)));
    let kept = this.#serving.size - this.#handingBack.size;
    for (const partition of [...this.#serving].reverse()) {
      if (kept <= share) break;
      if (this.#handingBack.has(partition)) continue;
      kept--;
      void this.#handBack(partition);
    }
    // Start at a place of our own, so workers starting together do not all race for partition 0.
    const first = partitionOf(this.options.workerId, this.options.partitions);
    for (let i = 0; i < this.options.partitions && kept < share && !this.#stopping; i++) {
      const partition = (first + i) % this.options.partitions;
      const lease = this.#leases[partition];
      if (lease === undefined || this.#serving.has(partition) || !(await lease.tick(now))) continue;
      this.#serving.add(partition);
      kept++;
      try {
        await this.options.onAcquired(partition, lease.revision);
      } catch (error) {
        this.options.logger.warn(
          { err: error, partition },
          "could not start serving a partition; giving it back",
        );
        this.#serving.delete(partition);
        kept--;
        await lease.release();
      }
    }
  }

  /** Renews this worker's member entry and counts the workers whose entries are alive, this one included. */
  async #liveWorkers(now: number): Promise<number> {
    const { kv, queue, workerId } = this.options;
    const mine = ownershipKeys.member(queue, workerId);
    await kv.put(mine, String(now));
    let live = 1;
    const seen = new Set<string>();
    for await (const key of await kv.keys(ownershipKeys.members(queue))) {
      if (key === mine) continue;
      const entry = await kv.get(key);
      if (entry === null || entry.operation !== "PUT") continue;
      seen.add(key);
      const known = this.#members.get(key);
      if (known === undefined || known.revision !== entry.revision) {
        this.#members.set(key, { revision: entry.revision, seenAt: now });
        live++;
      } else if (now - known.seenAt < this.options.leaseMs) {
        live++;
      } else {
        // Unrenewed for a lease time: the worker is gone. The compare-and-set spares a late renewal.
        await kv.delete(key, { previousSeq: entry.revision }).catch(() => {});
      }
    }
    for (const key of this.#members.keys()) if (!seen.has(key)) this.#members.delete(key);
    return live;
  }

  #lose(partition: number): void {
    this.#serving.delete(partition);
    this.#handingBack.delete(partition);
    void this.options.onReleasing(partition, true);
  }

  async #handBack(partition: number): Promise<void> {
    this.#handingBack.add(partition);
    try {
      await this.options.onReleasing(partition, false);
      // Lost meanwhile: #lose has dealt with it.
      if (!this.#handingBack.has(partition)) return;
      await this.#leases[partition]?.release();
      this.#serving.delete(partition);
    } finally {
      this.#handingBack.delete(partition);
    }
  }
}
