// The console's read models: each view composed from control-plane API calls (the same
// endpoints the CLI uses), paged and trimmed on the server so a fleet of 1,000 workers and 200
// queues still makes small replies.
import type { ScheduleView } from "../../runtime/index.ts";
import type {
  ApiReply,
  DeadLetterDetail,
  DeadLetterSummary,
  FleetStatus,
  HealthReport,
  JobLookup,
  QueueDetail,
  QueueJobStats,
  QueueView,
  RunningJobView,
  SchedulerStatusReply,
  StatsReport,
  WorkerView,
} from "../api/protocol.ts";
import type { ApiErrorBody } from "../errors.ts";
import type { History, HistoryPoint } from "./history.ts";
import { intParam, textParam } from "./http.ts";
import type { ConsoleSettings } from "./options.ts";
import { redact } from "./redact.ts";

export type ApiCall = (endpoint: string, body?: unknown) => Promise<ApiReply<unknown>>;

/** An API error reply, carried to the HTTP layer with a status. */
export class ViewError extends Error {
  constructor(
    readonly status: number,
    readonly body: ApiErrorBody,
  ) {
    super(body.message);
    this.name = "ViewError";
  }
}

const NOT_FOUND_CODES = new Set([
  "JOB_NOT_FOUND",
  "DEAD_LETTER_NOT_FOUND",
  "UNKNOWN_QUEUE",
  "SCHEDULE_NOT_FOUND",
]);
const FRESH_MS = 1000;
const PAGE_MAX = 200;
const JOBS_PER_WORKER = 20;
/** Throughput and error rate are measured over the last minute. */
const RATE_WINDOW_MS = 60_000;
/** Failure patterns compare the last 5 minutes with the last 30 (the longest window `stats` keeps). */
const RECENT_FAILURES_MS = 5 * 60_000;
const FAILURES_MS = 30 * 60_000;
/** `stats` moves in 10 s slices: asking more often than this shows nothing new. */
const STATS_FRESH_MS = 5000;

/** Outcomes of a queue over the rate window, from the `stats` endpoint. */
interface QueueOutcomes {
  completedPerSec: number;
  errorRate: number | null;
}

export interface QueueRow {
  queue: string;
  pending: number;
  inFlight: number;
  backlog: number;
  maxInFlight: number;
  dead: number;
  oldestJobAgeMs: number | null;
  enqueuedPerSec: number | null;
  processedPerSec: number | null;
  growthPerSec: number | null;
  timeToEmptyMs: number | null;
  timeToFullMs: number | null;
  completedPerSec: number | null;
  errorRate: number | null;
  paused: boolean;
  pausedOnWorkers: number;
  /** The likely cause when the control plane flags the queue stalled (docs/insight.md), else null. */
  stalled: string | null;
  workers: QueueView["workers"];
}

export class ConsoleViews {
  #snapshot:
    | { at: number; status: FleetStatus; outcomes: Map<string, QueueOutcomes>; stalls: Map<string, string> }
    | undefined;
  #refreshing: Promise<FleetStatus> | undefined;
  #deadLetters = new Map<string, { at: number; reply: Promise<DeadLetterList> }>();
  #stats = new Map<number, { at: number; reply: Promise<StatsReport> }>();

  constructor(
    private readonly call: ApiCall,
    private readonly history: History,
    private readonly settings: ConsoleSettings,
    private readonly now: () => number = Date.now,
  ) {}

  async data<T>(endpoint: string, body: unknown = {}): Promise<T> {
    const reply = await this.call(endpoint, body);
    if (reply.ok) return reply.data as T;
    const status = NOT_FOUND_CODES.has(reply.error.code)
      ? 404
      : reply.error.code === "INTERNAL"
        ? 500
        : reply.error.code === "NO_CONTROL_PLANE" || reply.error.code === "TIMEOUT"
          ? 503
          : 400;
    throw new ViewError(status, reply.error);
  }

  /** Forgets cached answers, so the view after an admin action shows its effect. */
  invalidate(): void {
    this.#snapshot = undefined;
    this.#deadLetters.clear();
  }

  /** Fleet status at most a second old; concurrent viewers share one refresh. */
  async fleet(): Promise<FleetStatus> {
    const snapshot = this.#snapshot;
    if (snapshot !== undefined && this.now() - snapshot.at < FRESH_MS) return snapshot.status;
    this.#refreshing ??= this.#refresh().finally(() => {
      this.#refreshing = undefined;
    });
    return this.#refreshing;
  }

  async overview(params: URLSearchParams) {
    const status = await this.fleet();
    const filter = textParam(params, "q")?.toLowerCase();
    const sort = textParam(params, "sort") ?? "queue";
    const all = status.queues.map((view) => this.#row(view));
    const rows = all.filter((row) => filter === undefined || row.queue.toLowerCase().includes(filter));
    if (sort !== "queue")
      rows.sort((a, b) => sortValue(b, sort) - sortValue(a, sort) || a.queue.localeCompare(b.queue));
    const offset = intParam(params, "offset", 0, Number.MAX_SAFE_INTEGER);
    const limit = intParam(params, "limit", 50, PAGE_MAX) || 50;
    return {
      at: status.at,
      replicaId: status.replicaId,
      workers: status.workers,
      jobs: status.jobs,
      deadLetters: status.deadLetters,
      totals: {
        queues: all.length,
        paused: all.filter((row) => row.paused).length,
        pending: sum(all, (row) => row.pending),
        inFlight: sum(all, (row) => row.inFlight),
        enqueuedPerSec: sum(all, (row) => row.enqueuedPerSec ?? 0),
        completedPerSec: sum(all, (row) => row.completedPerSec ?? 0),
      },
      history: this.history.fleet(),
      total: rows.length,
      offset,
      queues: rows.slice(offset, offset + limit),
    };
  }

  async queue(params: URLSearchParams) {
    const queue = required(params, "queue");
    // The fleet snapshot feeds the chart history, so a queue's chart fills while it is watched.
    const [detail, , stats] = await Promise.all([
      this.data<QueueDetail>("queues.get", { queue }),
      this.fleet(),
      this.#statsFor(RECENT_FAILURES_MS),
    ]);
    const { runningJobs, workerIds, ...view } = detail;
    return {
      row: this.#row(view),
      /** Per job name over the last 5 minutes: counts, error rate, durations and waits. */
      jobs: stats.queues.find((q) => q.queue === queue)?.jobs ?? [],
      statsWindowMs: Math.min(stats.windowMs, stats.coveredMs),
      pause: detail.pause,
      history: this.history.queue(queue),
      workers: workerIds.length,
      runningTotal: runningJobs.length,
      runningJobs: runningJobs.slice(0, 100),
    };
  }

  async workers(params: URLSearchParams) {
    const includeGone = params.get("gone") === "1";
    const [workers, running] = await Promise.all([
      this.data<WorkerView[]>("workers.list", { includeGone }),
      this.data<{ total: number; jobs: RunningJobView[] }>("jobs.running", { limit: 5000 }),
    ]);
    const filter = textParam(params, "q")?.toLowerCase();
    const matching = workers.filter(
      (w) =>
        filter === undefined ||
        w.workerId.toLowerCase().includes(filter) ||
        w.host.toLowerCase().includes(filter) ||
        w.queues.some((q) => q.queue.toLowerCase().includes(filter)),
    );
    const offset = intParam(params, "offset", 0, Number.MAX_SAFE_INTEGER);
    const limit = intParam(params, "limit", 50, PAGE_MAX) || 50;
    const page = matching.slice(offset, offset + limit);
    const jobsOf = new Map<string, RunningJobView[]>();
    for (const job of running.jobs) {
      const list = jobsOf.get(job.workerId) ?? [];
      list.push(job);
      jobsOf.set(job.workerId, list);
    }
    return {
      total: matching.length,
      offset,
      runningTotal: running.total,
      workers: page.map((w) => {
        const concurrency = sum(w.queues, (q) => q.concurrency);
        const jobs = jobsOf.get(w.workerId) ?? [];
        return {
          workerId: w.workerId,
          host: w.host,
          pid: w.pid,
          version: w.version,
          liveness: w.liveness,
          state: w.state,
          startedAt: w.startedAt,
          lastSeenAgoMs: w.lastSeenAgoMs,
          queues: w.queues,
          runningJobs: w.runningJobs,
          utilisation: concurrency === 0 ? null : round(w.runningJobs / concurrency),
          counters: w.counters,
          memory: w.memory,
          jobs: jobs.slice(0, JOBS_PER_WORKER).map((job) => ({
            jobId: job.jobId,
            queue: job.queue,
            name: job.name,
            attempt: job.attempt,
            runningForMs: job.runningForMs,
            progress: job.progress,
          })),
        };
      }),
    };
  }

  async job(params: URLSearchParams) {
    const jobId = required(params, "id");
    const lookup = await this.data<JobLookup>("jobs.get", { jobId });
    const result: { lookup: JobLookup; deadLetter?: ShownDeadLetter } = { lookup };
    if (lookup.dead !== undefined) {
      const letter = await this.data<DeadLetterDetail>("dlq.get", { seq: lookup.dead.seq }).catch(
        () => undefined,
      );
      if (letter !== undefined) result.deadLetter = this.#shown(letter);
    }
    return result;
  }

  async deadLetters(params: URLSearchParams) {
    const filter = deadLetterFilter(params);
    const list = await this.#deadLetterList(filter);
    const offset = intParam(params, "offset", 0, Number.MAX_SAFE_INTEGER);
    const limit = intParam(params, "limit", 50, PAGE_MAX) || 50;
    // Newest first: the operator's question is usually "what just died".
    const newestFirst = [...list.deadLetters].reverse();
    return {
      total: list.total,
      truncated: list.truncated,
      offset,
      errorClasses: [...new Set(list.deadLetters.map((letter) => letter.errorClass))].sort(),
      deadLetters: newestFirst.slice(offset, offset + limit),
    };
  }

  async deadLetter(params: URLSearchParams) {
    const seq = Number(required(params, "seq"));
    return this.#shown(await this.data<DeadLetterDetail>("dlq.get", { seq }));
  }

  /** Schedules (paged, filterable) with their next and last runs, and which replica fires them. */
  async schedules(params: URLSearchParams) {
    const [list, scheduler] = await Promise.all([
      this.data<ScheduleView[]>("schedules.list"),
      this.data<SchedulerStatusReply>("scheduler.status"),
    ]);
    const filter = textParam(params, "q")?.toLowerCase();
    const matching = list.filter(
      ({ schedule }) =>
        filter === undefined ||
        [schedule.id, schedule.queue, schedule.name].some((v) => v.toLowerCase().includes(filter)),
    );
    const offset = intParam(params, "offset", 0, Number.MAX_SAFE_INTEGER);
    const limit = intParam(params, "limit", 50, PAGE_MAX) || 50;
    return {
      scheduler,
      total: matching.length,
      offset,
      // Payloads stay out: a list has no room for them, and they may hold secrets.
      schedules: matching.slice(offset, offset + limit).map(({ schedule, state }) => ({
        id: schedule.id,
        queue: schedule.queue,
        name: schedule.name,
        rule: schedule.rule,
        paused: schedule.paused,
        missed: schedule.missed,
        startAt: schedule.startAt,
        endAt: schedule.endAt,
        nextFireAt: state.nextFireAt,
        lastFireAt: state.lastFireAt,
        lastJobId: state.lastJobId,
        lastError: state.lastError,
      })),
    };
  }

  /** Error classes of failed attempts per queue (last 5 and 30 minutes) and of dead letters. */
  async failures() {
    const [recent, long, dead] = await Promise.all([
      this.#statsFor(RECENT_FAILURES_MS),
      this.#statsFor(FAILURES_MS),
      this.data<{ total: number; truncated: boolean; patterns: unknown[] }>("dlq.patterns", {}),
    ]);
    const recentOf = (queue: string) => recent.queues.find((q) => q.queue === queue)?.total;
    const recentCount = (queue: string, errorClass: string) =>
      recentOf(queue)?.errorClasses.find((c) => c.errorClass === errorClass)?.count ?? 0;
    const live = long.queues.flatMap((q) =>
      q.total.errorClasses.map(({ errorClass, count }) => ({
        queue: q.queue,
        errorClass,
        last30m: count,
        last5m: recentCount(q.queue, errorClass),
        errorRate: recentOf(q.queue)?.errorRate ?? null,
        names: q.jobs
          .filter((job) => job.errorClasses.some((c) => c.errorClass === errorClass))
          .map((j) => j.name),
      })),
    );
    live.sort((a, b) => b.last30m - a.last30m || b.last5m - a.last5m || a.queue.localeCompare(b.queue));
    return { coveredMs: long.coveredMs, live: live.slice(0, 200), dead };
  }

  /** A dead letter as shown: payload and headers redacted, its trace id and link. */
  #shown(letter: DeadLetterDetail): ShownDeadLetter {
    const traceId = traceIdOf(letter.headers);
    const keys = this.settings.redactKeys;
    return {
      ...letter,
      payload: redact(letter.payload, keys),
      headers: redact(letter.headers, keys) as Record<string, string>,
      traceId,
      traceUrl:
        traceId === undefined || this.settings.traceUrlTemplate === undefined
          ? undefined
          : this.settings.traceUrlTemplate.replaceAll("{traceId}", traceId),
    };
  }

  async #refresh(): Promise<FleetStatus> {
    const [status, stats, health] = await Promise.all([
      this.data<FleetStatus>("status"),
      // Without rates (or stall verdicts) the overview is still worth showing.
      this.#statsFor(RATE_WINDOW_MS).catch(() => undefined),
      this.data<HealthReport>("health").catch(() => undefined),
    ]);
    const stalls = new Map((health?.stalls ?? []).map((s) => [s.queue, s.cause]));
    this.#snapshot = { at: this.now(), status, outcomes: outcomesOf(stats), stalls };
    const points = new Map<string, HistoryPoint>();
    for (const view of status.queues) {
      points.set(view.queue, {
        pending: view.pending,
        inFlight: view.inFlight,
        enqueuedPerSec: view.rates?.enqueuedPerSec ?? 0,
        completedPerSec: this.#snapshot.outcomes.get(view.queue)?.completedPerSec ?? 0,
      });
    }
    this.history.record(status.at, points);
    return status;
  }

  /** A `stats` report over the window, shared by every view for a few seconds. */
  #statsFor(windowMs: number): Promise<StatsReport> {
    const cached = this.#stats.get(windowMs);
    if (cached !== undefined && this.now() - cached.at < STATS_FRESH_MS) return cached.reply;
    const reply = this.data<StatsReport>("stats", { windowMs });
    reply.catch(() => this.#stats.delete(windowMs));
    this.#stats.set(windowMs, { at: this.now(), reply });
    return reply;
  }

  #row(view: QueueView): QueueRow {
    const outcomes = this.#snapshot?.outcomes.get(view.queue);
    return {
      queue: view.queue,
      pending: view.pending,
      inFlight: view.inFlight,
      backlog: view.backlog,
      maxInFlight: view.maxInFlight,
      dead: view.dead,
      oldestJobAgeMs: view.oldestJobAgeMs,
      enqueuedPerSec: view.rates?.enqueuedPerSec ?? null,
      processedPerSec: view.rates?.processedPerSec ?? null,
      growthPerSec: view.rates?.growthPerSec ?? null,
      timeToEmptyMs: view.rates?.timeToEmptyMs ?? null,
      timeToFullMs: view.rates?.timeToFullMs ?? null,
      completedPerSec: outcomes?.completedPerSec ?? null,
      errorRate: outcomes?.errorRate ?? null,
      paused: view.pause.paused,
      pausedOnWorkers: view.pause.pausedOnWorkers.length,
      stalled: this.#snapshot?.stalls.get(view.queue) ?? null,
      workers: view.workers,
    };
  }

  #deadLetterList(filter: Record<string, unknown>): Promise<DeadLetterList> {
    const key = JSON.stringify(filter);
    const cached = this.#deadLetters.get(key);
    if (cached !== undefined && this.now() - cached.at < FRESH_MS) return cached.reply;
    const reply = this.data<DeadLetterList>("dlq.list", { ...filter, limit: 1000 });
    reply.catch(() => this.#deadLetters.delete(key));
    for (const [old, entry] of this.#deadLetters)
      if (this.now() - entry.at >= FRESH_MS) this.#deadLetters.delete(old);
    this.#deadLetters.set(key, { at: this.now(), reply });
    return reply;
  }
}

export interface ShownDeadLetter extends DeadLetterDetail {
  traceId: string | undefined;
  traceUrl: string | undefined;
}

interface DeadLetterList {
  total: number;
  deadLetters: DeadLetterSummary[];
  truncated: boolean;
}

/** Completions per second and error rate of each queue, over the part of the window seen. */
function outcomesOf(stats: StatsReport | undefined): Map<string, QueueOutcomes> {
  const outcomes = new Map<string, QueueOutcomes>();
  if (stats === undefined) return outcomes;
  const seconds = Math.max(1, Math.min(stats.windowMs, stats.coveredMs) / 1000);
  for (const q of stats.queues as QueueJobStats[]) {
    outcomes.set(q.queue, {
      completedPerSec: round(q.total.completed / seconds),
      errorRate: q.total.errorRate,
    });
  }
  return outcomes;
}

/** The dead-letter filter of a query string, in the API's field names. */
export function deadLetterFilter(params: URLSearchParams): Record<string, unknown> {
  const filter: Record<string, unknown> = {};
  for (const field of ["queue", "name", "errorClass", "reason", "jobId"]) {
    const value = textParam(params, field);
    if (value !== undefined) filter[field] = value;
  }
  for (const field of ["since", "until"]) {
    const value = textParam(params, field);
    if (value !== undefined) filter[field] = Number(value);
  }
  return filter;
}

/** The trace id of a W3C `traceparent` header (version-traceid-spanid-flags). */
export function traceIdOf(headers: Record<string, string>): string | undefined {
  const entry = Object.entries(headers).find(([key]) => key.toLowerCase() === "traceparent");
  const match =
    entry === undefined ? null : /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/.exec(entry[1]);
  return match?.[1] === undefined || /^0+$/.test(match[1]) ? undefined : match[1];
}

function required(params: URLSearchParams, name: string): string {
  const value = textParam(params, name);
  if (value === undefined)
    throw new ViewError(400, { code: "INVALID_REQUEST", message: `the "${name}" parameter is required` });
  return value;
}

function sortValue(row: QueueRow, sort: string): number {
  if (sort === "pending") return row.pending;
  if (sort === "errors") return row.errorRate ?? -1;
  if (sort === "dead") return row.dead;
  if (sort === "growth") return row.growthPerSec ?? 0;
  return 0;
}

function sum<T>(items: readonly T[], value: (item: T) => number): number {
  return round(items.reduce((total, item) => total + value(item), 0));
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
