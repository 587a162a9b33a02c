// Exclusive ownership of one KV key among processes (the control plane's scheduler replicas, the
// owners of a keyed queue's partitions): the holder renews it with a compare-and-set every
// renewal interval; another process takes it over with a compare-and-set once it has seen the
// same revision for a whole lease time (its own clock only: no clock sync between hosts is
// needed). A holder that cannot renew steps down at once.
import type { KV } from "@nats-io/kv";
import type { Logger } from "pino";

export interface LeaseRecord {
  holder: string;
  renewedAt: number;
}

export interface LeaseOptions {
  /** How long a silent holder keeps the lease before another process takes over. */
  leaseMs: number;
  /** What the lease guards, for the log lines about it. @default "scheduler lease" */
  label?: string;
}

export class Lease {
  #held = false;
  /** Revision of our last write while we hold the lease. */
  #revision = 0;
  /** The revision another holder last wrote, and when (our clock) we first saw it. */
  #seen: { revision: number; at: number } | undefined;
  #lastRenewalAt = 0;
  #acquiredAt = 0;

  constructor(
    private readonly kv: KV,
    private readonly key: string,
    private readonly holder: string,
    private readonly options: LeaseOptions,
    private readonly logger: Logger,
  ) {}

  /** True while this replica holds the lease, as far as it knows. */
  get held(): boolean {
    // A holder that could not renew for a lease time may have been replaced already.
    if (this.#held && Date.now() - this.#lastRenewalAt >= this.options.leaseMs)
      this.#stepDown("renewals failed");
    return this.#held;
  }

  /** When (our clock) this replica last acquired the lease. */
  get acquiredAt(): number {
    return this.#acquiredAt;
  }

  /** The KV revision of our last write: it changes with every holder, so it names a holding. */
  get revision(): number {
    return this.#revision;
  }

  get #label(): string {
    return this.options.label ?? "scheduler lease";
  }

  /** Renews the lease, or tries to take it; call it a few times per lease time. */
  async tick(now = Date.now()): Promise<boolean> {
    try {
      if (this.#held) await this.#renew(now);
      else await this.#tryAcquire(now);
    } catch (error) {
      if (isConflict(error)) this.#stepDown("another replica holds the lease");
      else this.logger.warn({ err: error }, `${this.#label} check failed`);
    }
    return this.held;
  }

  /** Gives the lease up so another replica takes over at once (a clean stop). */
  async release(): Promise<void> {
    if (!this.#held) return;
    this.#held = false;
    await this.kv.delete(this.key, { previousSeq: this.#revision }).catch(() => {});
    this.logger.info(`${this.#label} released`);
  }

  /** The current holder, from the bucket. */
  async current(): Promise<LeaseRecord | undefined> {
    const entry = await this.kv.get(this.key);
    if (entry === null || entry.operation !== "PUT") return undefined;
    return entry.json<LeaseRecord>();
  }

  async #renew(now: number): Promise<void> {
    this.#revision = await this.kv.update(this.key, this.#record(now), this.#revision);
    this.#lastRenewalAt = now;
  }

  async #tryAcquire(now: number): Promise<void> {
    const entry = await this.kv.get(this.key);
    if (entry === null || entry.operation !== "PUT") {
      this.#revision = await this.kv.create(this.key, this.#record(now));
      return this.#becomeHolder(now, "free");
    }
    if (entry.json<LeaseRecord>().holder === this.holder) {
      // Ours from before a restart of this replica: take it back.
      this.#revision = await this.kv.update(this.key, this.#record(now), entry.revision);
      return this.#becomeHolder(now, "own");
    }
    if (this.#seen?.revision !== entry.revision) {
      this.#seen = { revision: entry.revision, at: now };
      return;
    }
    if (now - this.#seen.at < this.options.leaseMs) return;
    this.#revision = await this.kv.update(this.key, this.#record(now), entry.revision);
    this.#becomeHolder(now, "expired");
  }

  #becomeHolder(now: number, previous: "free" | "own" | "expired"): void {
    this.#held = true;
    this.#lastRenewalAt = now;
    this.#acquiredAt = now;
    this.#seen = undefined;
    this.logger.info({ previous }, `${this.#label} acquired`);
  }

  #stepDown(why: string): void {
    if (!this.#held) return;
    this.#held = false;
    this.logger.warn({ why }, `${this.#label} lost`);
  }

  #record(now: number): string {
    return JSON.stringify({ holder: this.holder, renewedAt: now } satisfies LeaseRecord);
  }
}

/** A compare-and-set that found another revision (or an existing key on create). */
function isConflict(error: unknown): boolean {
  const e = error as { code?: number; api_error?: { err_code?: number }; message?: string };
  return (
    e?.api_error?.err_code === 10071 ||
    e?.code === 10071 ||
    /wrong last sequence|key exists/i.test(e?.message ?? "")
  );
}
