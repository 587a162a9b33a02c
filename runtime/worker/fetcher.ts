// Pulls jobs of one queue, never more than there are free slots: a worker holds only jobs it is
// running, so a crash strands no prefetched jobs and no worker hoards the queue's MaxAckPending.
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import type { Delivery } from "../jetstream/delivery.ts";
import { Puller } from "../jetstream/puller.ts";

export interface FetcherOptions {
  nc: NatsConnection;
  stream: string;
  consumer: string;
  concurrency: number;
  /** Runs one job; the slot is freed when the promise settles. */
  dispatch: (delivery: Delivery) => Promise<void>;
  /** Returns a job that arrived after pulling stopped, without charging it an attempt. */
  handBack: (delivery: Delivery) => void;
  logger: Logger;
}

/** Pull requests waiting on the server at once; more would only add server load. */
const MAX_PULL_REQUESTS = 2;

export class Fetcher {
  #running = 0;
  #stopped = false;
  #paused = false;
  #idle: (() => void) | undefined;
  readonly #batchThreshold: number;
  readonly #puller: Puller;

  constructor(private readonly options: FetcherOptions) {
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

  /** Stops starting jobs (running ones finish); resume() continues. */
  pause(): void {
    this.#paused = true;
    this.#puller.forgetRequests();
  }

  resume(): void {
    this.#paused = false;
    this.#maybePull();
  }

  /** Stops pulling for good and resolves when no job is running. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#puller.forgetRequests();
    if (this.#running > 0) {
      await new Promise<void>((resolve) => {
        this.#idle = resolve;
      });
    }
    this.#puller.close();
  }

  #maybePull(): void {
    if (this.#stopped || this.#paused) return;
    const free = this.options.concurrency - this.#running - this.#puller.requested;
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
    this.#running++;
    this.options.dispatch(delivery).finally(() => {
      this.#running--;
      if (this.#running === 0) this.#idle?.();
      this.#maybePull();
    });
  }
}
