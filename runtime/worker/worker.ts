// A worker process's runtime: wires one fetcher and job runner per queue to a shared lease
// keeper, attempt log and event publisher, and shuts all of it down in order.

import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { JetmeshError } from "../errors.ts";
import { type ConnectionSettings, connectionSettingsFromEnv, connectNats } from "../jetstream/connection.ts";
import { attemptsBucket, type QueueSettings, readQueueSettings } from "../jetstream/queues.ts";
import { KeyedQueue } from "../keyed/keyed-queue.ts";
import { keyedBucket, readKeyPartitions } from "../keyed/partitions.ts";
import { createLogger } from "../observability/logging.ts";
import type { WorkerMetrics } from "../observability/metrics.ts";
import { controlBucket } from "../wire/control.ts";
import type { Heartbeat } from "../wire/heartbeat.ts";
import { Subjects } from "../wire/subjects.ts";
import { AttemptLog } from "./attempt-log.ts";
import { ControlListener } from "./control-listener.ts";
import { ControlState } from "./control-state.ts";
import { assertJobDefinition, type JobDefinition } from "./define-job.ts";
import { EventPublisher } from "./event-publisher.ts";
import { AbortReason } from "./failure.ts";
import { Fetcher, type FetcherOptions } from "./fetcher.ts";
import { DEFAULT_HEARTBEAT_INTERVAL_MS, HeartbeatPublisher } from "./heartbeat.ts";
import { JobRecords } from "./job-records.ts";
import { JobRunner, type RunningJob } from "./job-runner.ts";
import { LeaseKeeper } from "./lease-keeper.ts";
import { LifecycleCounters, LifecycleFanOut, type LifecycleSink } from "./lifecycle.ts";
import { PriorityFetcher, type QueueFetcher } from "./priority-fetcher.ts";
import { assertPriorityOption, type PriorityOption } from "./priority-order.ts";
import { RateLimits } from "./rate-limits.ts";

export interface WorkerOptions {
  /** An open connection to use (the worker will not close it), or settings to open one. */
  connection?: NatsConnection | ConnectionSettings;
  /** Subject prefix of the mesh. @default "jetmesh" */
  prefix?: string;
  /** Queues to serve; each must have been declared. */
  queues: readonly string[];
  /** Job definitions; every job name published to the served queues needs one. */
  jobs: readonly JobDefinition<any, any>[];
  /** Jobs of one queue this process runs at once (of all its queues, with `priority`). @default 10 */
  concurrency?: number;
  /**
   * Serve the queues from ONE budget of `concurrency` slots, each freed slot going to the first
   * queue (in `queues` order) with a job (`"strict"`), or to the queues with jobs in proportion
   * to `weights` (docs/priorities.md). Without it every queue has `concurrency` slots of its own.
   */
  priority?: PriorityOption;
  /**
   * Jobs of one queue pulled beyond the free slots, to start as soon as one frees (a pull round
   * trip saved per job). "auto" prefetches a quarter of the concurrency while the queue's jobs
   * average 10 ms or less, and none for longer jobs. Prefetched jobs count against the queue's
   * fleet-wide concurrency while they wait, and a crash strands them for an ack wait and charges
   * them an attempt (docs/configuration.md). @default "auto"
   */
  prefetch?: number | "auto";
  /** Payloads larger than this are dead-lettered unread. @default 1048576 */
  maxPayloadBytes?: number;
  /** How long close() lets running jobs finish before handing them back. @default 30000 */
  shutdownGraceMs?: number;
  /** Publish lifecycle events on `<prefix>.evt.…`. @default true */
  events?: boolean;
  /** @default `<host>-<pid>-<random>` */
  workerId?: string;
  /** Prometheus metrics to record job outcomes in (new WorkerMetrics()); none when omitted. */
  metrics?: WorkerMetrics;
  /** How often the worker publishes its heartbeat. @default 5000 */
  heartbeatIntervalMs?: number;
  logger?: Logger;
}

export const WORKER_DEFAULTS = {
  concurrency: 10,
  prefetch: "auto",
  maxPayloadBytes: 1024 * 1024,
  shutdownGraceMs: 30_000,
} as const;

interface QueueRuntime {
  settings: QueueSettings;
  fetcher: QueueFetcher;
  runner: JobRunner;
  leases: LeaseKeeper;
  /** The queue's keyed jobs, when it has key partitions (docs/keyed-jobs.md). */
  keyed: KeyedQueue | undefined;
}

export class Worker {
  readonly #queues = new Map<string, QueueRuntime>();
  readonly #counters = new LifecycleCounters();
  #closing: Promise<void> | undefined;
  #control: ControlState | undefined;
  #eventPublisher: EventPublisher | undefined;
  #listener: ControlListener | undefined;
  #heartbeat: HeartbeatPublisher | undefined;
  #rateLimits: RateLimits | undefined;
  /** Set once nothing runs and nothing is held: the last heartbeat says so. */
  #stopped = false;
  #resolveClosed: () => void = () => {};
  /** Resolves once the worker has shut down, whether by close() or a drain command. */
  readonly closed = new Promise<void>((resolve) => {
    this.#resolveClosed = resolve;
  });

  private constructor(
    readonly id: string,
    readonly nc: NatsConnection,
    private readonly ownsConnection: boolean,
    private readonly shutdownGraceMs: number,
    readonly logger: Logger,
  ) {}

  /** Connects, checks every queue exists, and starts pulling jobs. */
  static async start(options: WorkerOptions): Promise<Worker> {
    if (options.queues.length === 0)
      throw new JetmeshError("INVALID_OPTIONS", "a worker needs at least one queue");
    const concurrency = options.concurrency ?? WORKER_DEFAULTS.concurrency;
    if (!Number.isSafeInteger(concurrency) || concurrency < 1) {
      throw new JetmeshError("INVALID_OPTIONS", `concurrency must be a positive integer, got ${concurrency}`);
    }
    const prefetch = options.prefetch ?? WORKER_DEFAULTS.prefetch;
    if (prefetch !== "auto" && (!Number.isSafeInteger(prefetch) || prefetch < 0)) {
      throw new JetmeshError(
        "INVALID_OPTIONS",
        `prefetch must be "auto" or a non-negative integer, got ${prefetch}`,
      );
    }
    if (options.priority !== undefined) {
      assertPriorityOption(options.priority, options.queues);
      // Priority lanes never prefetch (a held low job would take a high job's slot): only a set number clashes.
      if (prefetch !== "auto" && prefetch > 0)
        throw new JetmeshError(
          "INVALID_OPTIONS",
          "prefetch cannot be combined with priority: set one of them",
        );
    }
    const jobs = new Map<string, JobDefinition>();
    for (const job of options.jobs) {
      assertJobDefinition(job);
      if (jobs.has(job.name)) throw new JetmeshError("INVALID_OPTIONS", `job "${job.name}" is defined twice`);
      jobs.set(job.name, job);
    }
    // A worker id is one subject token (heartbeats, control keys): dots in host names become dashes.
    const workerId =
      options.workerId ??
      `${hostname().replace(/[^A-Za-z0-9_-]/g, "-")}-${process.pid}-${randomBytes(3).toString("hex")}`;
    if (!/^[A-Za-z0-9_-]{1,128}$/.test(workerId)) {
      throw new JetmeshError(
        "INVALID_OPTIONS",
        `workerId "${workerId}" must be 1-128 characters from A-Z a-z 0-9 _ -`,
      );
    }
    const logger = (options.logger ?? createLogger()).child({ workerId });
    const given = options.connection;
    const ownsConnection = given === undefined || !("publish" in given);
    const nc = ownsConnection
      ? await connectNats({
          name: `jetmesh-worker ${workerId}`,
          ...((given as ConnectionSettings | undefined) ?? connectionSettingsFromEnv()),
        })
      : (given as NatsConnection);
    const worker = new Worker(
      workerId,
      nc,
      ownsConnection,
      options.shutdownGraceMs ?? WORKER_DEFAULTS.shutdownGraceMs,
      logger,
    );
    try {
      await worker.#wire(options, jobs, concurrency);
    } catch (error) {
      if (ownsConnection) await nc.close();
      throw error;
    }
    void worker.#logConnectionChanges();
    logger.info({ queues: options.queues, concurrency, jobs: [...jobs.keys()] }, "worker started");
    return worker;
  }

  async #wire(options: WorkerOptions, jobs: Map<string, JobDefinition>, concurrency: number): Promise<void> {
    const subjects = new Subjects(options.prefix);
    const jsm = await jetstreamManager(this.nc);
    const js = jetstream(this.nc);
    const kvm = new Kvm(this.nc);
    const attempts = new AttemptLog(await kvm.open(attemptsBucket(subjects)), this.logger);
    const sinks: LifecycleSink[] = [this.#counters];
    if (options.events ?? true) {
      this.#eventPublisher = new EventPublisher(this.nc, subjects, this.id, this.logger);
      sinks.push(this.#eventPublisher);
    }
    if (options.metrics !== undefined) sinks.push(options.metrics);
    const records = new JobRecords(this.nc, subjects, this.logger);
    sinks.push(records);
    const events = new LifecycleFanOut(sinks);
    const control = new ControlState(
      await kvm.open(controlBucket(subjects.prefix)),
      this.id,
      options.queues,
      {
        onPauseChange: (queue, paused) => this.#setPaused(queue, paused),
        onCancel: (key) => this.#cancelRunning(key),
        onDrain: () => {
          this.logger.info("drain requested");
          void this.close();
        },
      },
      this.logger,
    );
    this.#control = control;
    const sharedSlots =
      options.priority === undefined
        ? undefined
        : new PriorityFetcher({ queues: options.queues, priority: options.priority, concurrency });
    const keyed = await kvm.open(keyedBucket(subjects));
    for (const queue of options.queues) {
      const settings = await readQueueSettings(jsm, subjects, queue);
      const leases = new LeaseKeeper(settings.ackWaitMs);
      const shared = {
        js,
        subjects,
        jobs,
        attempts,
        events,
        logger: this.logger.child({ queue }),
        workerId: this.id,
        maxPayloadBytes: options.maxPayloadBytes ?? WORKER_DEFAULTS.maxPayloadBytes,
        isCancelled: (key: string) => control.isCancelled(key),
        records,
      };
      const runner = new JobRunner({ ...shared, queue: settings, leases });
      const partitions = await readKeyPartitions(keyed, queue);
      const keyedQueue =
        partitions === 0
          ? undefined
          : new KeyedQueue({
              nc: this.nc,
              jsm,
              kv: keyed,
              settings,
              partitions,
              workerId: this.id,
              concurrency,
              runner: shared,
              logger: shared.logger,
            });
      const fetcherOptions: FetcherOptions = {
        nc: this.nc,
        stream: settings.stream,
        consumer: settings.consumer,
        concurrency,
        prefetch: options.prefetch ?? WORKER_DEFAULTS.prefetch,
        leases,
        dispatch: (msg) => runner.run(msg),
        handBack: (msg) => runner.handBackUnstarted(msg),
        logger: this.logger.child({ queue }),
      };
      const fetcher = sharedSlots?.lane(queue, fetcherOptions) ?? new Fetcher(fetcherOptions);
      this.#queues.set(queue, { settings, fetcher, runner, leases, keyed: keyedQueue });
    }
    // Commands issued before this worker started (a paused queue, cancelled jobs) and rate limits
    // apply from its first pull; both are read at once, so start-up waits for the slower only.
    const fetchers = new Map([...this.#queues].map(([queue, runtime]) => [queue, runtime.fetcher]));
    [, this.#rateLimits] = await Promise.all([
      control.load(),
      RateLimits.follow(kvm, subjects, fetchers, this.logger),
    ]);
    this.#listener = new ControlListener(
      this.nc,
      subjects,
      control,
      {
        workerId: this.id,
        serves: (queue) => this.#queues.has(queue),
        cancelRunning: (key) => this.#cancelRunning(key),
      },
      this.logger,
    );
    this.#listener.start();
    this.#heartbeat = new HeartbeatPublisher(
      this.nc,
      subjects,
      this.id,
      options.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS,
      () => this.#snapshot(),
    );
    this.#heartbeat.start();
    options.metrics?.watchQueues({ queueLoad: () => this.#queueLoad() });
    const rateLimits = this.#rateLimits;
    options.metrics?.watchRateLimits({ rateLimits: () => rateLimits.snapshot() });
    options.metrics?.limitNamesTo(jobs.keys());
    for (const [queue, runtime] of this.#queues) {
      if (control.isPaused(queue)) runtime.fetcher.pause();
      runtime.fetcher.start();
      if (control.isPaused(queue)) runtime.keyed?.pause();
      runtime.keyed?.start();
    }
    if (control.drainRequested) void this.close();
  }

  /** Operators need to see a lost broker in the worker's own log, not only in missing heartbeats. */
  async #logConnectionChanges(): Promise<void> {
    for await (const status of this.nc.status()) {
      if (status.type === "disconnect")
        this.logger.warn({ server: status.server }, "disconnected from NATS; reconnecting");
      else if (status.type === "reconnect")
        this.logger.info({ server: status.server }, "reconnected to NATS");
    }
  }

  #setPaused(queue: string, paused: boolean): void {
    const runtime = this.#queues.get(queue);
    if (runtime === undefined) return;
    this.logger.info({ queue, paused }, paused ? "queue paused" : "queue resumed");
    if (paused) runtime.fetcher.pause();
    else runtime.fetcher.resume();
    if (paused) runtime.keyed?.pause();
    else runtime.keyed?.resume();
    this.#heartbeat?.publish();
  }

  #cancelRunning(key: string): boolean {
    let found = false;
    for (const runtime of this.#queues.values()) {
      found = runtime.runner.cancelRunning(key) || found;
      found = runtime.keyed?.cancelRunning(key) || found;
    }
    return found;
  }

  #queueLoad(): { queue: string; running: number; concurrency: number }[] {
    return [...this.#queues.values()].map((runtime) => ({
      queue: runtime.settings.queue,
      running: runtime.fetcher.running + (runtime.keyed?.running ?? 0),
      concurrency: runtime.fetcher.concurrency + (runtime.keyed?.concurrency ?? 0),
    }));
  }

  #snapshot(): Pick<Heartbeat, "state" | "queues" | "jobs" | "counters"> {
    return {
      state: this.#closing === undefined ? "running" : this.#stopped ? "stopped" : "draining",
      queues: this.#queueLoad().map((load) => ({
        ...load,
        paused: this.#queues.get(load.queue)?.fetcher.paused ?? false,
      })),
      jobs: this.runningJobs().map((job) => ({
        jobId: job.envelope.id,
        queue: job.envelope.queue,
        name: job.envelope.name,
        attempt: job.envelope.attempt,
        startedAt: job.startedAt,
        progress: job.progress,
      })),
      counters: { ...this.#counters.totals },
    };
  }

  /** Jobs running in this process now. */
  runningJobs(): RunningJob[] {
    return [...this.#queues.values()].flatMap((runtime) => [
      ...runtime.runner.running.values(),
      ...(runtime.keyed?.runner.running.values() ?? []),
    ]);
  }

  /** Stops starting jobs of a queue (all queues when omitted); running jobs finish. */
  pause(queue?: string): void {
    for (const runtime of this.#select(queue)) {
      runtime.fetcher.pause();
      runtime.keyed?.pause();
    }
  }

  resume(queue?: string): void {
    for (const runtime of this.#select(queue)) {
      runtime.fetcher.resume();
      runtime.keyed?.resume();
    }
  }

  #select(queue: string | undefined): QueueRuntime[] {
    if (queue === undefined) return [...this.#queues.values()];
    const runtime = this.#queues.get(queue);
    if (runtime === undefined)
      throw new JetmeshError("INVALID_OPTIONS", `this worker does not serve queue "${queue}"`);
    return [runtime];
  }

  /**
   * Graceful shutdown: stop pulling, let running jobs finish within the grace period, hand the
   * rest back for immediate redelivery (no attempt charged), then close the connection.
   */
  close(graceMs = this.shutdownGraceMs): Promise<void> {
    this.#closing ??= this.#shutdown(graceMs);
    return this.#closing;
  }

  async #shutdown(graceMs: number): Promise<void> {
    const runtimes = [...this.#queues.values()];
    this.#heartbeat?.publish();
    this.logger.info({ running: this.runningJobs().length, graceMs }, "worker stopping");
    // A keyed queue's stop also gives its partitions back once its jobs have ended.
    const drained = Promise.all(
      runtimes.flatMap((runtime) => [runtime.fetcher.stop(), runtime.keyed?.stop()]),
    );
    let timer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<"grace-over">((resolve) => {
      timer = setTimeout(() => resolve("grace-over"), graceMs);
    });
    if ((await Promise.race([drained, graceOver])) === "grace-over") {
      this.logger.warn(
        { running: this.runningJobs().length },
        "grace period over; handing running jobs back",
      );
      const reason = new AbortReason("shutdown", "the worker is shutting down");
      for (const runtime of runtimes) {
        runtime.runner.abortAll(reason);
        runtime.keyed?.runner.abortAll(reason);
      }
      await drained;
    }
    clearTimeout(timer);
    // The fetchers no longer receive; jobs that arrived after pulling stopped are being handed back.
    await Promise.all(runtimes.map((runtime) => runtime.runner.handBacksSettled()));
    for (const runtime of runtimes) runtime.leases.close();
    this.#listener?.stop();
    this.#control?.stop();
    this.#rateLimits?.stop();
    this.#heartbeat?.stop();
    this.#stopped = true;
    this.#heartbeat?.publish();
    // Events of the last jobs may still wait for the end of this turn: send them before closing.
    this.#eventPublisher?.flush();
    if (this.ownsConnection) await this.nc.drain();
    this.logger.info("worker stopped");
    this.#resolveClosed();
  }
}
