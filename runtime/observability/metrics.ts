// Prometheus metrics of a worker process (docs/metrics.md lists every family). Job outcomes
// arrive as lifecycle transitions; gauges of running jobs and capacity are read at scrape time,
// so the hot path pays one histogram observation and one counter increment per transition.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { JobEnvelope } from "../wire/job-message.ts";
import type { LifecycleEventType } from "../wire/subjects.ts";
import type { LifecycleDetails, LifecycleSink } from "../worker/lifecycle.ts";

/** From a millisecond job to a six-hour one. */
export const DURATION_BUCKETS_SECONDS = [
  0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 21600,
];
/** From a sub-millisecond pickup to a day-long backlog. */
export const WAIT_BUCKETS_SECONDS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30, 60, 300, 900, 3600, 21600, 86400,
];

/** Distinct error classes kept as label values per process; later ones count as "other". */
const MAX_ERROR_CLASSES = 50;

export interface QueueGaugeSource {
  /** Per queue: jobs running now and the slots this process has. */
  queueLoad(): { queue: string; running: number; concurrency: number }[];
}

export interface RateLimitGaugeSource {
  /** Per served queue: whether a rate limit applies, and the jobs held here waiting for a permit. */
  rateLimits(): { queue: string; limited: boolean; waiting: number }[];
}

export class WorkerMetrics implements LifecycleSink {
  readonly registry: Registry;
  readonly #duration: Histogram<"queue" | "name" | "outcome">;
  readonly #wait: Histogram<"queue" | "name">;
  readonly #outcomes: Counter<"queue" | "name" | "outcome">;
  readonly #failures: Counter<"queue" | "name" | "error_class" | "kind">;
  readonly #redeliveries: Counter<"queue" | "name">;
  readonly #errorClasses = new Set<string>();
  /** Job names that may appear as label values; undefined = any (set by the worker). */
  #knownNames: ReadonlySet<string> | undefined;

  constructor(options: { registry?: Registry; defaultMetrics?: boolean } = {}) {
    this.registry = options.registry ?? new Registry();
    const registers = [this.registry];
    this.#duration = new Histogram({
      name: "jetmesh_job_duration_seconds",
      help: "How long job attempts ran, by outcome (completed, failed, cancelled).",
      labelNames: ["queue", "name", "outcome"],
      buckets: DURATION_BUCKETS_SECONDS,
      registers,
    });
    this.#wait = new Histogram({
      name: "jetmesh_job_wait_seconds",
      help: "Time from enqueue to the start of the first attempt.",
      labelNames: ["queue", "name"],
      buckets: WAIT_BUCKETS_SECONDS,
      registers,
    });
    this.#outcomes = new Counter({
      name: "jetmesh_jobs_total",
      help: "Job transitions by outcome: started, completed, failed, retried, dead, cancelled.",
      labelNames: ["queue", "name", "outcome"],
      registers,
    });
    this.#failures = new Counter({
      name: "jetmesh_job_failures_total",
      help: "Failed attempts by error class and kind (handler, timeout, lease-lost).",
      labelNames: ["queue", "name", "error_class", "kind"],
      registers,
    });
    this.#redeliveries = new Counter({
      name: "jetmesh_job_redeliveries_total",
      help: "Attempts after the first: retries, and duplicates after crashes or lost leases.",
      labelNames: ["queue", "name"],
      registers,
    });
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  /** Exposes running jobs and capacity per queue, read when Prometheus scrapes. */
  watchQueues(source: QueueGaugeSource): void {
    const registers = [this.registry];
    new Gauge({
      name: "jetmesh_jobs_running",
      help: "Jobs running in this process now.",
      labelNames: ["queue"],
      registers,
      collect() {
        for (const load of source.queueLoad()) this.set({ queue: load.queue }, load.running);
      },
    });
    new Gauge({
      name: "jetmesh_worker_capacity",
      help: "Jobs this process may run at once.",
      labelNames: ["queue"],
      registers,
      collect() {
        for (const load of source.queueLoad()) this.set({ queue: load.queue }, load.concurrency);
      },
    });
  }

  /** Exposes which queues are rate-limited and the jobs waiting for a permit, read when scraped. */
  watchRateLimits(source: RateLimitGaugeSource): void {
    const registers = [this.registry];
    new Gauge({
      name: "jetmesh_queue_rate_limited",
      help: "1 while a fleet-wide rate limit applies to the queue or a job name in it, else 0.",
      labelNames: ["queue"],
      registers,
      collect() {
        for (const queue of source.rateLimits()) this.set({ queue: queue.queue }, queue.limited ? 1 : 0);
      },
    });
    new Gauge({
      name: "jetmesh_rate_limit_waiting_jobs",
      help: "Jobs delivered to this process that wait, unstarted, for a rate-limit permit.",
      labelNames: ["queue"],
      registers,
      collect() {
        for (const queue of source.rateLimits()) this.set({ queue: queue.queue }, queue.waiting);
      },
    });
  }

  /**
   * Keeps the name label bounded: a job published under a name no handler knows (a typo, or a
   * producer inventing names) is counted as "(unknown)" instead of adding series.
   */
  limitNamesTo(names: Iterable<string>): void {
    this.#knownNames = new Set(names);
  }

  publish(type: LifecycleEventType, envelope: JobEnvelope, details: LifecycleDetails = {}): void {
    const queue = envelope.queue;
    const name =
      this.#knownNames === undefined || this.#knownNames.has(envelope.name) ? envelope.name : "(unknown)";
    switch (type) {
      case "started":
        this.#outcomes.inc({ queue, name, outcome: "started" });
        // Waits of first attempts only: a retry's time since enqueue includes earlier attempts and backoff.
        if (envelope.attempt === 1 && details.waitMs !== undefined) {
          this.#wait.observe({ queue, name }, Math.max(0, details.waitMs) / 1000);
        }
        if (envelope.attempt > 1) this.#redeliveries.inc({ queue, name });
        return;
      case "completed":
      case "cancelled":
        this.#outcomes.inc({ queue, name, outcome: type });
        if (details.durationMs !== undefined)
          this.#duration.observe({ queue, name, outcome: type }, details.durationMs / 1000);
        return;
      case "failed":
        this.#outcomes.inc({ queue, name, outcome: "failed" });
        if (details.durationMs !== undefined)
          this.#duration.observe({ queue, name, outcome: "failed" }, details.durationMs / 1000);
        this.#failures.inc({
          queue,
          name,
          error_class: this.#boundedClass(details.error?.class ?? "Error"),
          kind: details.error?.kind ?? "handler",
        });
        return;
      case "retrying":
        this.#outcomes.inc({ queue, name, outcome: "retried" });
        return;
      case "dead":
        this.#outcomes.inc({ queue, name, outcome: "dead" });
        return;
      default:
        return;
    }
  }

  #boundedClass(errorClass: string): string {
    if (this.#errorClasses.has(errorClass)) return errorClass;
    if (this.#errorClasses.size >= MAX_ERROR_CLASSES) return "other";
    this.#errorClasses.add(errorClass);
    return errorClass;
  }
}
