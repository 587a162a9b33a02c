// Runs the keyed jobs of one queue in this worker: owns some of the queue's partitions
// (ownership.ts), reads each through its own consumer, and keeps one line per key in stream
// order, starting only a line's head, one job per key at a time, up to the worker's concurrency
// across keys. A head that fails stays at the head while it is retried (a delayed nak), so only
// its own key waits; one that is acknowledged, dead-lettered or cancelled lets the next one start.
// Jobs waiting behind their key keep their leases alive. Lines exist only while a key has jobs
// here, so memory grows with the jobs in hand, never with the number of keys ever seen.
import type { JetStreamManager } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { Puller } from "../jetstream/puller.ts";
import type { QueueSettings } from "../jetstream/queues.ts";
import { AbortReason } from "../worker/failure.ts";
import { JobRunner, type JobRunnerOptions } from "../worker/job-runner.ts";
import { type Lease, LeaseKeeper } from "../worker/lease-keeper.ts";
import { PartitionOwnership } from "./ownership.ts";
import { recreatePartitionConsumer } from "./partition-consumer.ts";
import { keyedJobNameReader } from "./partitions.ts";
import { TrackedDelivery } from "./tracked-delivery.ts";

export interface KeyedQueueOptions {
  nc: NatsConnection;
  jsm: JetStreamManager;
  /** The keyed bucket (partition leases and members). */
  kv: KV;
  settings: QueueSettings;
  partitions: number;
  workerId: string;
  /** Keyed jobs of this queue this worker runs at once. */
  concurrency: number;
  /** What the worker's job runners share; leases and job-name reading are the keyed queue's own. */
  runner: Omit<JobRunnerOptions, "leases" | "queue" | "inOrder">;
  logger: Logger;
}

/** Pull requests waiting on the server per partition at once. */
const MAX_PULL_REQUESTS = 2;

interface Job {
  readonly seq: number;
  delivery: TrackedDelivery;
  /** Held while the job waits here (not while it runs: the runner holds its own). */
  lease: Lease | undefined;
  /** A copy JetStream sent again while this one ran (its lease ran out): the one to answer next. */
  resent: TrackedDelivery | undefined;
}

/** The jobs of one key held here, in stream order; only the head runs. */
class KeyLine {
  readonly jobs: Job[] = [];
  /** waiting: the head may start; running; retrying: the head will be delivered again. */
  state: "waiting" | "running" | "retrying" = "waiting";
  /** In the ready queue now. */
  queued = false;

  constructor(
    readonly key: string,
    readonly partition: ServedPartition,
  ) {}

  indexOf(seq: number): number {
    // Most deliveries are new jobs, later in the stream than any held: no need to look.
    if ((this.jobs.at(-1)?.seq ?? -1) < seq) return -1;
    for (let i = 0; i < this.jobs.length; i++) if (this.jobs[i]?.seq === seq) return i;
    return -1;
  }

  /**
   * Inserts by stream sequence: new jobs come last, a redelivered earlier one goes before them,
   * but never before a head that runs or retries (a job finished here and delivered again because
   * its ack was lost runs once more, after the head).
   */
  insert(job: Job): void {
    const first = this.state === "waiting" ? 0 : 1;
    let at = this.jobs.length;
    while (at > first && (this.jobs[at - 1]?.seq ?? 0) > job.seq) at--;
    this.jobs.splice(at, 0, job);
  }

  /** Removes a finished job (the head, unless a late redelivery was put before it). */
  remove(job: Job): void {
    const at = this.jobs[0] === job ? 0 : this.jobs.indexOf(job);
    if (at >= 0) this.jobs.splice(at, 1);
  }
}

class ServedPartition {
  readonly lines = new Map<string, KeyLine>();
  /** Jobs held here (waiting or running): bounded by the consumer's MaxAckPending. */
  held = 0;
  running = 0;
  stopped = false;
  #idle: (() => void) | undefined;

  constructor(
    readonly partition: number,
    readonly puller: Puller,
  ) {}

  /** Resolves once none of the partition's jobs runs here. */
  async idle(): Promise<void> {
    if (this.running === 0) return;
    await new Promise<void>((resolve) => {
      this.#idle = resolve;
    });
  }

  jobEnded(): void {
    this.running--;
    if (this.running === 0) this.#idle?.();
  }
}

export class KeyedQueue {
  readonly runner: JobRunner;
  readonly #leases: LeaseKeeper;
  readonly #ownership: PartitionOwnership;
  readonly #served = new Map<number, ServedPartition>();
  /** Partitions being stopped, so one taken back at once waits for its old jobs first. */
  readonly #stopping = new Map<number, Promise<void>>();
  /** Lines whose head may start, oldest first; `#readyHead` is the next to look at. */
  #ready: KeyLine[] = [];
  #readyHead = 0;
  #running = 0;
  #paused = false;
  #closing = false;
  #drained: (() => void) | undefined;
  readonly #batch: number;

  constructor(private readonly options: KeyedQueueOptions) {
    const { settings } = options;
    this.#leases = new LeaseKeeper(settings.ackWaitMs);
    this.#batch = Math.max(1, Math.floor(settings.concurrency / 4));
    this.runner = new JobRunner({
      ...options.runner,
      queue: settings,
      leases: this.#leases,
      inOrder: { jobName: keyedJobNameReader(options.runner.subjects, settings.queue) },
    });
    this.#ownership = new PartitionOwnership({
      kv: options.kv,
      queue: settings.queue,
      partitions: options.partitions,
      workerId: options.workerId,
      leaseMs: settings.ackWaitMs,
      logger: options.logger,
      onAcquired: (partition, generation) => this.#serve(partition, generation),
      onReleasing: (partition, lost) => this.#stopServing(partition, lost),
      onRenewed: () => this.#pump(),
    });
  }

  get running(): number {
    return this.#running;
  }

  get concurrency(): number {
    return this.options.concurrency;
  }

  start(): void {
    this.#ownership.start();
  }

  /** Stops starting jobs; running ones finish and waiting ones stay here, in order. */
  pause(): void {
    this.#paused = true;
    for (const served of this.#served.values()) served.puller.abandonRequests();
  }

  resume(): void {
    this.#paused = false;
    for (const served of this.#served.values()) this.#topUp(served);
    this.#pump();
  }

  /** Aborts the running job with this KV key, if any; returns whether one was running. */
  cancelRunning(key: string): boolean {
    return this.runner.cancelRunning(key);
  }

  /**
   * Stops starting jobs, resolves once none runs, then gives the partitions back: the jobs left
   * unanswered are read again, in order, by their next owners.
   */
  async stop(): Promise<void> {
    this.#closing = true;
    await this.#ownership.stop();
    for (const served of this.#served.values()) served.puller.abandonRequests();
    if (this.#running > 0) {
      await new Promise<void>((resolve) => {
        this.#drained = resolve;
      });
    }
    await Promise.all([...this.#served.keys()].map((partition) => this.#stopServing(partition, false)));
    await this.#ownership.release();
    this.#leases.close();
  }

  async #serve(partition: number, generation: number): Promise<void> {
    await this.#stopping.get(partition);
    const { nc, jsm, settings, logger } = this.options;
    const consumer = await recreatePartitionConsumer(
      jsm,
      this.options.runner.subjects,
      settings,
      partition,
      generation,
    );
    const puller = new Puller(nc, {
      stream: settings.stream,
      consumer,
      deliveryOf: (msg) => new TrackedDelivery(msg),
      onDelivery: (delivery) => this.#receive(served, delivery as TrackedDelivery),
      onWarning: (message) => logger.warn({ partition }, message),
    });
    const served = new ServedPartition(partition, puller);
    this.#served.set(partition, served);
    puller.start(() => this.#topUp(served));
    this.#topUp(served);
    logger.info({ partition, consumer }, "serving keyed partition");
  }

  #stopServing(partition: number, lost: boolean): Promise<void> {
    const served = this.#served.get(partition);
    if (served === undefined) return this.#stopping.get(partition) ?? Promise.resolve();
    this.#served.delete(partition);
    served.stopped = true;
    served.puller.close();
    for (const line of served.lines.values()) {
      for (const job of line.jobs) this.#releaseLease(job);
      if (lost && line.state === "running") {
        // Another worker may own the partition already: the job must stop before it runs twice.
        this.runner.running
          .get(line.jobs[0]?.seq ?? -1)
          ?.control.abort(new AbortReason("shutdown", "this worker lost the lease of the job's partition"));
      }
    }
    const stopping = served.idle().then(() => {
      this.#stopping.delete(partition);
      this.options.logger.info({ partition, lost }, "stopped serving keyed partition");
    });
    this.#stopping.set(partition, stopping);
    return stopping;
  }

  #receive(served: ServedPartition, delivery: TrackedDelivery): void {
    // A job of a partition no longer served here stays unanswered: its next owner reads it again.
    if (served.stopped) return;
    let line = served.lines.get(delivery.key);
    if (line === undefined) {
      line = new KeyLine(delivery.key, served);
      served.lines.set(delivery.key, line);
    }
    const at = line.indexOf(delivery.seq);
    const known = line.jobs[at];
    if (known === undefined) {
      const job: Job = { seq: delivery.seq, delivery, lease: undefined, resent: undefined };
      this.#holdLease(line, job);
      line.insert(job);
      served.held++;
    } else if (at === 0 && line.state === "running") {
      known.resent = delivery;
      return;
    } else {
      // Delivered again: a retry coming back, or a waiting job whose lease ran out.
      this.#releaseLease(known);
      known.delivery = delivery;
      this.#holdLease(line, known);
      if (at === 0 && line.state === "retrying") line.state = "waiting";
    }
    this.#queue(line);
    this.#pump();
  }

  #holdLease(line: KeyLine, job: Job): void {
    job.lease = this.#leases.hold(job.delivery, () => {
      // JetStream will deliver it again: the key waits for that copy rather than run this one.
      job.lease = undefined;
      if (line.jobs[0] === job && line.state === "waiting") line.state = "retrying";
    });
  }

  #releaseLease(job: Job): void {
    if (job.lease !== undefined) this.#leases.release(job.lease);
    job.lease = undefined;
  }

  #queue(line: KeyLine): void {
    if (line.queued || line.state !== "waiting" || line.jobs.length === 0) return;
    line.queued = true;
    this.#ready.push(line);
  }

  #pump(): void {
    /** Lines of partitions whose lease is in doubt: they wait for the next renewal round. */
    let inDoubt: KeyLine[] | undefined;
    while (!this.#paused && !this.#closing && this.#running < this.options.concurrency) {
      const line = this.#ready[this.#readyHead];
      if (line === undefined) break;
      this.#readyHead++;
      line.queued = false;
      const head = line.jobs[0];
      if (line.partition.stopped || line.state !== "waiting" || head?.lease === undefined) continue;
      // The lease may have run out since the last round (stalled renewals): start nothing then.
      if (!this.#ownership.holds(line.partition.partition)) {
        inDoubt ??= [];
        inDoubt.push(line);
        continue;
      }
      this.#start(line, head);
    }
    if (this.#readyHead > 1024 && this.#readyHead * 2 > this.#ready.length) {
      this.#ready = this.#ready.slice(this.#readyHead);
      this.#readyHead = 0;
    }
    for (const line of inDoubt ?? []) this.#queue(line);
  }

  #start(line: KeyLine, head: Job): void {
    this.#releaseLease(head);
    line.state = "running";
    this.#running++;
    line.partition.running++;
    this.runner.run(head.delivery).then(
      () => this.#ended(line, head),
      (error: unknown) => {
        this.options.logger.error({ err: error, seq: head.seq }, "keyed job run failed");
        this.#ended(line, head);
      },
    );
  }

  #ended(line: KeyLine, head: Job): void {
    this.#running--;
    const served = line.partition;
    served.jobEnded();
    if (this.#running === 0) this.#drained?.();
    if (served.stopped) {
      this.#pump();
      return;
    }
    const answer = head.delivery.answer;
    if (answer === "ack" || answer === "term") {
      line.remove(head);
      served.held--;
      line.state = "waiting";
      if (line.jobs.length === 0) served.lines.delete(line.key);
      else this.#queue(line);
    } else if (head.resent !== undefined) {
      head.delivery = head.resent;
      head.resent = undefined;
      line.state = "waiting";
      this.#holdLease(line, head);
      this.#queue(line);
    } else {
      // Nakked for a retry, or handed back unanswered: the key waits for the same job to return.
      line.state = "retrying";
    }
    this.#topUp(served);
    this.#pump();
  }

  /**
   * Asks for as many jobs as the partition's window has room for, and always for at least one:
   * a retried head comes back through a pull request even when the window is full.
   */
  #topUp(served: ServedPartition): void {
    if (served.stopped || this.#paused || this.#closing) return;
    const { puller } = served;
    const free = this.options.settings.concurrency - served.held - puller.requested;
    if (puller.pendingRequests === 0) puller.request(Math.max(1, free));
    else if (free >= this.#batch && puller.pendingRequests < MAX_PULL_REQUESTS) puller.request(free);
  }
}
