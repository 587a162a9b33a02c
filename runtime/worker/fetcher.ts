// Pulls jobs of one queue, by default never more than there are free slots: a worker holds only
// jobs it is running, so a crash strands no prefetched jobs and no worker hoards the queue's
// MaxAckPending. An opt-in prefetch asks for a few more, so the next job is already here when a
// slot frees (at low concurrency a pull round trip per job is most of the time); they wait in a
// buffer under a lease like running jobs, and are handed back on pause and stop.
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import type { Delivery } from "../jetstream/delivery.ts";
import { Puller } from "../jetstream/puller.ts";
import type { Lease, LeaseKeeper } from "./lease-keeper.ts";
import type { StartGate } from "./start-gate.ts";

export interface FetcherOptions {
  nc: NatsConnection;
  stream: string;
  consumer: string;
  concurrency: number;
  /** Jobs pulled beyond the free slots, to wait in a buffer. @default 0 */
  prefetch?: number;
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
 * A buffered job whose lease was last renewed longer ago than this is renewed once more as it
 * starts, so the runner's lease, which starts then, is not ahead of the server's ack wait.
 */
const RENEW_ON_START_MS = 1000;

interface Buffered {
  delivery: Delivery;
  lease: Lease;
}

export class Fetcher {
  #running = 0;
  #stopped = false;
  #paused = false;
  #idle: (() => void) | undefined;
  readonly #batchThreshold: number;
  readonly #puller: Puller;
  readonly #prefetch: number;
  /** Prefetched jobs waiting for a slot, oldest first. */
  #buffer: Buffered[] = [];
  /** Absent unless something (a rate limit) decides when jobs may start: then one check per pull and start. */
  #gate: StartGate | undefined;
  /** Delivered jobs the gate has not let start yet, oldest first; they hold slots while they wait. */
  #held: Buffered[] = [];

  constructor(private readonly options: FetcherOptions) {
    this.#prefetch = options.prefetch ?? 0;
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
    this.#puller.close();
  }

  #maybePull(): void {
    if (this.#stopped || this.#paused) return;
    let free =
      this.options.concurrency +
      this.#prefetch -
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
      const buffered: Buffered = {
        delivery,
        // Lost only if the event loop stalls past the ack wait: JetStream redelivers it, so drop it.
        lease: this.options.leases.hold(delivery, () => {
          this.#buffer = this.#buffer.filter((entry) => entry !== buffered);
        }),
      };
      this.#buffer.push(buffered);
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
    this.options.dispatch(delivery).finally(() => {
      this.#running--;
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

  #start({ delivery, lease }: Buffered): void {
    this.#endWait(delivery, lease);
    this.#run(delivery);
  }

  /** Ends a wait under a lease: the runner's lease starts now, so the server's must not be older. */
  #endWait(delivery: Delivery, lease: Lease): void {
    const renewedAt = lease.renewedAt;
    this.options.leases.release(lease);
    if (Date.now() - renewedAt > RENEW_ON_START_MS) delivery.working();
  }

  /**
   * Keeps a job the gate refused, unstarted and under its lease: a nak would charge it a delivery
   * attempt. Held jobs take slots, so no more are pulled than there are slots to hold them.
   */
  #hold(delivery: Delivery): void {
    const held: Buffered = {
      delivery,
      lease: this.options.leases.hold(delivery, () => {
        this.#held = this.#held.filter((entry) => entry !== held);
      }),
    };
    this.#held.push(held);
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
