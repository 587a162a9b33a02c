// Pulls jobs of one queue for its free slots, and a few more when jobs are short: then the next
// job is already here when a slot frees, because for a job of a millisecond the pull round trip
// is most of the time. Long jobs are never prefetched: a job waiting in one worker's buffer
// behind a long one could have run at once in an idle worker (Celery's prefetch trap). Buffered
// jobs wait under a lease like running ones, and are handed back on pause and stop.
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import type { Delivery } from "../jetstream/delivery.ts";
import { Puller } from "../jetstream/puller.ts";
import type { Lease, LeaseKeeper } from "./lease-keeper.ts";
import type { GatedFetcher, StartGate } from "./start-gate.ts";

export interface FetcherOptions {
  nc: NatsConnection;
  stream: string;
  consumer: string;
  concurrency: number;
  /**
   * Jobs pulled beyond the free slots, to wait in a buffer; "auto" prefetches a quarter of the
   * concurrency while the queue's jobs are short, none while they are long. @default "auto"
   */
  prefetch?: number | "auto";
  /** Renews the leases of buffered jobs along with running ones. */
  leases: LeaseKeeper;
  /** Runs one job; the slot is freed when the promise settles. */
  dispatch: (delivery: Delivery) => Promise<void>;
  /** Returns a job that arrived after pulling stopped, without charging it an attempt. */
  handBack: (delivery: Delivery) => void;
  logger: Logger;
}

/** Pull requests waiting on the server at once; more would only add server load. */
const MAX_PULL_REQUESTS = 2;
/**
 * A buffered job whose lease was last renewed longer ago than this share of the ack wait is
 * renewed once more as it starts: the runner's lease starts then, and must not be ahead of the
 * server's clock by more than the slack its renewals leave (a job started 0.9 s after its last
 * renewal on a 2 s ack wait was once run twice under load).
 */
const RENEW_ON_START_SHARE = 1 / 10;
/**
 * "auto" prefetches while the average job runs at most this long: a buffered job then waits at
 * most about this long for its slot, where a pull round trip (which prefetch saves) is ~0.3-1 ms.
 */
const SHORT_JOB_MS = 10;
/** Weight of the newest run time in the average: about the last 30 jobs count. */
const RUN_TIME_WEIGHT = 1 / 16;

interface Buffered {
  delivery: Delivery;
  lease: Lease;
}

export class Fetcher implements GatedFetcher {
  #running = 0;
  #stopped = false;
  #paused = false;
  #idle: (() => void) | undefined;
  readonly #batchThreshold: number;
  readonly #puller: Puller;
  /** The fixed prefetch, or undefined for "auto". */
  readonly #fixedPrefetch: number | undefined;
  readonly #autoPrefetch: number;
  /** Moving average of how long a job takes here; starts long, so nothing is prefetched blind. */
  #averageRunMs = Number.POSITIVE_INFINITY;
  /** Prefetched jobs waiting for a slot, oldest first. */
  #buffer: Buffered[] = [];
  /** Absent unless something (a rate limit) decides when jobs may start: then one check per pull and start. */
  #gate: StartGate | undefined;
  /** Delivered jobs the gate has not let start yet, oldest first; they hold slots while they wait. */
  #held: Buffered[] = [];

  constructor(private readonly options: FetcherOptions) {
    const prefetch = options.prefetch ?? "auto";
    this.#fixedPrefetch = prefetch === "auto" ? undefined : prefetch;
    this.#autoPrefetch = Math.ceil(options.concurrency / 4);
    this.#batchThreshold = Math.max(1, Math.floor(options.concurrency / 4));
    this.#puller = new Puller(options.nc, {
      stream: options.stream,
      consumer: options.consumer,
      onDelivery: (delivery) => this.#run(delivery),
      onWarning: (message) => options.logger.warn(message),
    });
  }

  get running(): number {
    return this.#running;
  }

  get concurrency(): number {
    return this.options.concurrency;
  }

  /** Delivered jobs waiting, unstarted, for the gate to let them start. */
  get held(): number {
    return this.#held.length;
  }

  get paused(): boolean {
    return this.#paused;
  }

  /** Jobs to hold beyond the free slots now. */
  get prefetch(): number {
    if (this.#fixedPrefetch !== undefined) return this.#fixedPrefetch;
    return this.#averageRunMs <= SHORT_JOB_MS ? this.#autoPrefetch : 0;
  }

  /** Puts a gate in front of starts (a limit was set), or takes it away (undefined). */
  setGate(gate: StartGate | undefined): void {
    if (this.#gate !== undefined) this.#gate.onReady = undefined;
    this.#gate = gate;
    if (gate !== undefined) gate.onReady = () => this.#admitHeld();
    this.#admitHeld();
  }

  start(): void {
    this.#puller.start(() => this.#maybePull());
    this.#maybePull();
  }

  /** Stops starting jobs (running ones finish, buffered ones are handed back); resume() continues. */
  pause(): void {
    this.#paused = true;
    this.#puller.abandonRequests();
    this.#handBackBuffered();
  }

  resume(): void {
    this.#paused = false;
    this.#maybePull();
  }

  /** Stops pulling for good and resolves when no job is running. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#puller.abandonRequests();
    this.#handBackBuffered();
    if (this.#running > 0) {
      await new Promise<void>((resolve) => {
        this.#idle = resolve;
      });
    }
    await this.#puller.close();
  }

  #maybePull(): void {
    if (this.#stopped || this.#paused) return;
    let free =
      this.options.concurrency +
      this.prefetch -
      this.#running -
      this.#buffer.length -
      this.#held.length -
      this.#puller.requested;
    if (this.#gate !== undefined)
      free = this.#gate.pullable(free, this.#puller.requested + this.#buffer.length + this.#held.length);
    if (free <= 0 || this.#puller.pendingRequests >= MAX_PULL_REQUESTS) return;
    // With a request already waiting, top up only in batches: a request per freed slot costs more than it gains.
    if (this.#puller.pendingRequests > 0 && free < this.#batchThreshold) return;
    this.#puller.request(free);
  }

  #run(delivery: Delivery): void {
    if (this.#stopped || this.#paused) {
      // Arrived after we stopped asking: hand it straight back.
      this.options.handBack(delivery);
      return;
    }
    if (this.#running >= this.options.concurrency) {
      this.#buffer.push(
        this.#waitUnderLease(delivery, (lost) => {
          this.#buffer = this.#buffer.filter((entry) => entry !== lost);
        }),
      );
      return;
    }
    if (this.#gate !== undefined && !this.#gate.admit(delivery)) {
      this.#hold(delivery);
      return;
    }
    this.#dispatch(delivery);
  }

  #dispatch(delivery: Delivery): void {
    this.#running++;
    const startedAt = performance.now();
    this.options.dispatch(delivery).finally(() => {
      this.#running--;
      this.#recordRunTime(performance.now() - startedAt);
      if (this.#held.length > 0) this.#admitHeld();
      const next =
        this.#stopped || this.#paused || this.#running >= this.options.concurrency
          ? undefined
          : this.#buffer.shift();
      if (next !== undefined) this.#start(next);
      else if (this.#running === 0) this.#idle?.();
      this.#maybePull();
    });
  }

  #recordRunTime(ms: number): void {
    const average = this.#averageRunMs;
    this.#averageRunMs =
      average === Number.POSITIVE_INFINITY ? ms : average + (ms - average) * RUN_TIME_WEIGHT;
  }

  #start({ delivery, lease }: Buffered): void {
    this.#endWait(delivery, lease);
    this.#run(delivery);
  }

  /** Ends a wait under a lease: the runner's lease starts now, so the server's must not be older. */
  #endWait(delivery: Delivery, lease: Lease): void {
    const renewedAt = lease.renewedAt;
    this.options.leases.release(lease);
    if (Date.now() - renewedAt > this.options.leases.ackWaitMs * RENEW_ON_START_SHARE) delivery.working();
  }

  /**
   * Keeps a job the gate refused, unstarted and under its lease: a nak would charge it a delivery
   * attempt. Held jobs take slots, so no more are pulled than there are slots to hold them.
   */
  #hold(delivery: Delivery): void {
    this.#held.push(
      this.#waitUnderLease(delivery, (lost) => {
        this.#held = this.#held.filter((entry) => entry !== lost);
      }),
    );
  }

  /**
   * An unstarted job kept under a renewed lease. The lease is lost only if the event loop stalls
   * past the ack wait; JetStream then redelivers the job, so `drop` forgets it here.
   */
  #waitUnderLease(delivery: Delivery, drop: (entry: Buffered) => void): Buffered {
    const entry: Buffered = { delivery, lease: this.options.leases.hold(delivery, () => drop(entry)) };
    return entry;
  }

  /** Starts the held jobs the gate admits now, oldest first, in the slots there are. */
  #admitHeld(): void {
    if (this.#held.length > 0 && !this.#stopped && !this.#paused) {
      const gate = this.#gate;
      this.#held = this.#held.filter((entry) => {
        if (this.#running >= this.options.concurrency) return true;
        if (gate !== undefined && !gate.admit(entry.delivery)) return true;
        this.#endWait(entry.delivery, entry.lease);
        this.#dispatch(entry.delivery);
        return false;
      });
    }
    this.#maybePull();
  }

  #handBackBuffered(): void {
    const buffered = [...this.#held, ...this.#buffer];
    this.#buffer = [];
    this.#held = [];
    for (const { delivery, lease } of buffered) {
      this.options.leases.release(lease);
      this.options.handBack(delivery);
    }
  }
}
