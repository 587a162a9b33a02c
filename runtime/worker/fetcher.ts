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

  get paused(): boolean {
    return this.#paused;
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
    const free =
      this.options.concurrency +
      this.#prefetch -
      this.#running -
      this.#buffer.length -
      this.#puller.requested;
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
    this.#running++;
    this.options.dispatch(delivery).finally(() => {
      this.#running--;
      const next = this.#stopped || this.#paused ? undefined : this.#buffer.shift();
      if (next !== undefined) this.#start(next);
      else if (this.#running === 0) this.#idle?.();
      this.#maybePull();
    });
  }

  #start({ delivery, lease }: Buffered): void {
    const renewedAt = lease.renewedAt;
    this.options.leases.release(lease);
    if (Date.now() - renewedAt > RENEW_ON_START_MS) delivery.working();
    this.#run(delivery);
  }

  #handBackBuffered(): void {
    const buffered = this.#buffer;
    this.#buffer = [];
    for (const { delivery, lease } of buffered) {
      this.options.leases.release(lease);
      this.options.handBack(delivery);
    }
  }
}
