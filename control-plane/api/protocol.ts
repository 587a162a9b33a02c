// The control plane's request-reply API on `<prefix>.api.<endpoint>`: every endpoint with its
// request and reply shapes. The CLI, the tests and later the web UI all speak exactly this;
// docs/control-plane.md mirrors it.
import type {
  CommandAck,
  ControlCommand,
  Heartbeat,
  QueueStatus,
  JobState as RecordedJob,
  RunningJobStatus,
  ScheduleChanges,
  ScheduleSpec,
  ScheduleView,
} from "../../runtime/index.ts";
import type { ApiErrorBody } from "../errors.ts";

export type ApiReply<T> = { ok: true; data: T } | { ok: false; error: ApiErrorBody };

/** Queue group every replica joins, so one replica answers each request. */
export const API_QUEUE_GROUP = "jetmesh-control-plane";

// ---------------------------------------------------------------- fleet and queues

export type Liveness = "alive" | "late" | "gone";

export interface WorkerView {
  workerId: string;
  host: string;
  pid: number;
  version: string;
  /** alive: last heartbeat within 1.5 intervals; late: within 3; gone: older. */
  liveness: Liveness;
  /** What the worker said it was doing: "running", "draining" after a drain or SIGTERM, "stopped". */
  state: Heartbeat["state"];
  startedAt: number;
  lastSeenAt: number;
  lastSeenAgoMs: number;
  intervalMs: number;
  queues: QueueStatus[];
  runningJobs: number;
  counters: Heartbeat["counters"];
  memory: Heartbeat["memory"];
}

export interface RunningJobView extends RunningJobStatus {
  workerId: string;
  host: string;
  /** running: its worker is alive or late; awaiting-redelivery: its worker is gone. */
  state: "running" | "awaiting-redelivery";
  runningForMs: number;
}

export interface CommandRecord {
  by: string;
  at: number;
  reason?: string;
  commandId?: string;
  /** A pause with expiry: when the control plane resumes it by itself (ms since epoch). */
  expiresAt?: number;
}

export interface QueuePauseState {
  /** Paused fleet-wide. */
  paused: boolean;
  record?: CommandRecord;
  /** Workers on which the queue is paused individually. */
  pausedOnWorkers: { workerId: string; record: CommandRecord }[];
  /** Jobs of the queue still running on workers where it is paused (they finish; none start). */
  finishing: number;
}

export interface QueueRates {
  /** Length of the window the rates are measured over. */
  windowMs: number;
  /** Jobs stored per second (new enqueues, retries from the dead-letter stream, hand-backs). */
  enqueuedPerSec: number;
  /** Jobs that left the queue per second (completed, dead-lettered or cancelled). */
  processedPerSec: number;
  /** Change of the backlog per second: positive grows, negative drains. */
  growthPerSec: number;
  /** Change of the pending (not yet delivered) jobs per second: positive grows, negative drains. */
  pendingGrowthPerSec: number;
  /** Time until the backlog is empty at the current drain rate; null unless draining. */
  timeToEmptyMs: number | null;
  /** Time to work off the backlog at the current rate of jobs leaving, arrivals aside; null when none leave. */
  timeToDrainMs: number | null;
  /** Time until the queue's limit (max jobs or max bytes) is reached at the current growth; null unless growing against a limit. */
  timeToFullMs: number | null;
}

/** What JetStream itself says of a queue, plus the rates this replica derived from it. */
export interface QueueFacts {
  queue: string;
  stream: string;
  /** Jobs in the queue: waiting plus in flight (the stream's message count). */
  backlog: number;
  /** Jobs not yet handed to any worker: the `workers` consumer's num_pending plus keyed jobs no partition owner holds. */
  pending: number;
  /** Jobs handed to a worker and not yet acknowledged (num_ack_pending, summed over the `workers` and partition consumers). */
  inFlight: number;
  /** Jobs delivered more than once and not yet acknowledged (num_redelivered). */
  redelivered: number;
  /** Jobs of this queue in the dead-letter stream. */
  dead: number;
  /** Fleet-wide limit of jobs in flight (max_ack_pending, summed over the `workers` and partition consumers). */
  maxInFlight: number;
  /** Enqueue time of the oldest job in the queue (ms since epoch), null when empty. */
  oldestJobAt: number | null;
  oldestJobAgeMs: number | null;
  /** Null until the service has two samples far enough apart. */
  rates: QueueRates | null;
  /** The keyed jobs among the figures above; only on a queue declared with keyPartitions. */
  keyed?: KeyedQueueFacts;
}

/** The keyed part of a queue's figures (docs/keyed-jobs.md, "Operator views"). */
export interface KeyedQueueFacts {
  /** Keyed jobs in the stream: waiting plus held by partition owners. */
  jobs: number;
  /** Keyed jobs no partition owner holds yet (counted in the queue's pending). */
  pending: number;
  /** Keyed jobs held by a partition owner: running or waiting behind their key (counted in inFlight). */
  inFlight: number;
  /** Partitions read through a consumer, i.e. taken by a worker. */
  ownedPartitions: number;
  /** Keyed jobs waiting in partitions no worker has taken: nothing runs them until one does. */
  unowned: number;
}

export interface QueueView extends QueueFacts {
  pause: QueuePauseState;
  /** From heartbeats of alive and late workers. */
  workers: { serving: number; paused: number; concurrency: number; running: number };
}

export interface FleetStatus {
  at: number;
  replicaId: string;
  workers: { alive: number; late: number; gone: number; draining: number };
  jobs: { running: number; awaitingRedelivery: number };
  queues: QueueView[];
  deadLetters: number;
}

export interface QueueDetail extends QueueView {
  runningJobs: RunningJobView[];
  workerIds: string[];
}

// ---------------------------------------------------------------- jobs

export interface AttemptView {
  attempt: number;
  at: number;
  kind: string;
  errorClass: string;
  message: string;
  workerId: string;
}

export type JobState =
  | "running"
  | "awaiting-redelivery"
  | "waiting"
  | "retrying"
  | "dead"
  | "completed"
  | "cancelled";

export interface JobLookup {
  jobId: string;
  state: JobState;
  queue?: string;
  name?: string;
  attempt?: number;
  /** running: where and since when. */
  workerId?: string;
  host?: string;
  startedAt?: number;
  progress?: unknown;
  /** waiting / retrying: its place in the queue. */
  sequence?: number;
  /** The key of a keyed job found waiting in its partition. */
  key?: string;
  enqueuedAt?: number;
  /** retrying: when the next attempt is due (best effort, from the last retrying event). */
  retryAt?: number;
  /** completed: from the recent-outcomes record (best effort). */
  completedAt?: number;
  durationMs?: number;
  dead?: DeadLetterSummary;
  cancelled?: CommandRecord;
  /** Failed attempts so far, oldest first. */
  attempts: AttemptView[];
  notes: string[];
  /** Waiting, running and backoff across its attempts, while the outcomes bucket keeps its steps. */
  timeline?: JobTimeline;
  /**
   * What the job's workers recorded for a job enqueued with `result: true`: its state, last
   * progress, and its result or final error (docs/results-and-uniqueness.md).
   */
  recorded?: RecordedJobState;
}

/** A job's record in the results bucket, as the runtime's client.jobState() returns it. */
export type RecordedJobState = Omit<RecordedJob, "jobId" | "queue" | "name">;

/** One attempt on a job's timeline (times in ms since epoch, durations in ms). */
export interface TimelineAttempt {
  attempt: number;
  startedAt: number;
  /** Null while it runs. */
  endedAt: number | null;
  /** completed, failed, cancelled, dead, or running. */
  outcome: string;
  /** Time in the queue before it started: after the enqueue, or after the backoff before it. */
  waitingBeforeMs: number;
  /** The retry delay of the attempt before, waited out before it could start. */
  backoffBeforeMs: number;
  runningMs: number;
}

/** A job's life from first enqueue to its final outcome (or to now): waitingMs + runningMs + backoffMs = totalMs. */
export interface JobTimeline {
  /** Null when the first start's wait was not known (then the timeline starts at that start). */
  enqueuedAt: number | null;
  /** The final outcome's time; null while the job is not done. */
  endedAt: number | null;
  /** completed, dead, cancelled; running, retrying or waiting while not done. */
  outcome: string;
  totalMs: number;
  waitingMs: number;
  runningMs: number;
  backoffMs: number;
  attempts: TimelineAttempt[];
  /** Gaps in what was recorded (a replica down, an evicted record). */
  notes: string[];
}

export interface WaitingJob {
  jobId: string;
  queue: string;
  name: string;
  sequence: number;
  enqueuedAt: number | null;
  storedAt: number;
  attempt: number;
  /** The job's key, when it is a keyed job (it waits in its key's partition). */
  key?: string;
}

// ---------------------------------------------------------------- job statistics

export interface OutcomeCounts {
  completed: number;
  /** Failed attempts (a job retried twice and then completed counts 2). */
  failed: number;
  /** Failed attempts scheduled for another attempt. */
  retried: number;
  /** Jobs dead-lettered. */
  dead: number;
  cancelled: number;
}

export interface Distribution {
  /** How many values the percentiles come from. */
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export interface OutcomeSummary extends OutcomeCounts {
  /** Failed attempts / finished attempts (completed + failed); null when none finished. */
  errorRate: number | null;
  /** Run time of attempts that ended (completed, failed, cancelled), in ms. */
  durationMs: Distribution | null;
  /** Enqueue to start of first attempts, in ms. */
  waitMs: Distribution | null;
  /** The most frequent error classes of failed attempts (at most 10), most frequent first. */
  errorClasses: { errorClass: string; count: number }[];
}

export interface QueueJobStats {
  queue: string;
  /** Jobs waiting to be handed to a worker now; null when the queue's stream is gone. */
  pending: number | null;
  /** Change of pending per second over the replica's rate window; null until it has two samples. */
  pendingGrowthPerSec: number | null;
  /** Every job name of the queue together. */
  total: OutcomeSummary;
  /** Per job name that had events in the window. */
  jobs: ({ name: string } & OutcomeSummary)[];
}

export interface StatsReport {
  at: number;
  replicaId: string;
  windowMs: number;
  /** How much of the window this replica saw (less than windowMs for a replica younger than it). */
  coveredMs: number;
  queues: QueueJobStats[];
}

// ---------------------------------------------------------------- dead letters

export interface DeadLetterFilter {
  queue?: string;
  name?: string;
  errorClass?: string;
  reason?: string;
  jobId?: string;
  /** Failed at or after (ms since epoch). */
  since?: number;
  /** Failed before (ms since epoch). */
  until?: number;
  /** Dead-letter stream sequences. */
  seqs?: number[];
}

export interface DeadLetterSummary {
  seq: number;
  queue: string;
  name: string;
  jobId: string;
  reason: string;
  errorClass: string;
  errorMessage: string;
  failedAt: number;
  attempts: number;
  workerId?: string;
}

export interface DeadLetterDetail extends DeadLetterSummary {
  stack?: string;
  history: AttemptView[];
  originalSubject?: string;
  originalSequence?: number;
  headers: Record<string, string>;
  contentType?: string;
  /** The decoded payload, or its bytes in base64 when it cannot be decoded. */
  payload?: unknown;
  payloadBase64?: string;
  payloadBytes: number;
}

export interface DeadLetterRetryResult {
  matched: number;
  retried: { seq: number; jobId: string; queue: string; name: string; sequence: number }[];
  failed: { seq: number; jobId: string; error: string }[];
  dryRun: boolean;
}

/** Dead letters of one queue with one error class. */
export interface DeadLetterPattern {
  queue: string;
  errorClass: string;
  count: number;
  firstAt: number;
  lastAt: number;
  /** The error message of the most recent one. */
  lastMessage: string;
  /** Job names it struck (at most five). */
  names: string[];
}

export interface DeadLetterPatterns {
  /** Dead letters that matched the filter. */
  total: number;
  truncated: boolean;
  /** Most frequent first. */
  patterns: DeadLetterPattern[];
}

export interface DeadLetterPurgeResult {
  matched: number;
  purged: number;
  dryRun: boolean;
}

// ---------------------------------------------------------------- commands

export interface CommandResult {
  command: ControlCommand;
  acks: CommandAck[];
  acknowledged: number;
  /** Live workers (alive or late) the command concerns, by their heartbeats. */
  expected: string[];
  /** Expected workers that did not acknowledge within the timeout. */
  missing: string[];
  warnings: string[];
}

export interface EnqueueReply {
  jobId: string;
  queue: string;
  name: string;
  /** Its place in the queue, or in the delay store for a delayed job. */
  sequence: number;
  duplicate: boolean;
  /** When a delayed job is due (ms since epoch). */
  dueAt?: number;
}

/** Which replica runs the scheduler (the holder of its lease). */
export interface SchedulerStatusReply {
  /** The replica that answered runs it. */
  active: boolean;
  holder: string | null;
  /** Since when it runs it (its clock); runs due before then were missed. */
  activeSince: number | null;
}

export interface ReplicaInfo {
  replicaId: string;
  version: string;
  prefix: string;
  startedAt: number;
  host: string;
  pid: number;
}

// ---------------------------------------------------------------- health (docs/insight.md)

/**
 * Why a stalled queue makes no progress, most certain first: no live worker serves it; every
 * worker serving it is paused (or the queue is); every slot is taken by jobs that do not finish;
 * or none of these (workers idle while jobs wait: deliveries held back, e.g. retry backoff).
 */
export type StallCause = "no-workers" | "paused" | "unowned-partitions" | "slots-busy" | "not-delivering";

export interface QueueStall {
  queue: string;
  cause: StallCause;
  /** What the cause means here, in words. */
  detail: string;
  /** Since when no job left the queue while it held jobs (or since this replica first saw it). */
  since: number;
  stalledForMs: number;
  backlog: number;
  pending: number;
  inFlight: number;
}

/** A running job that has run longer than the p99 of its job name's recent durations. */
export interface SlowJob {
  jobId: string;
  queue: string;
  name: string;
  attempt: number;
  workerId: string;
  host: string;
  startedAt: number;
  runningForMs: number;
  /** How long it had run at its worker's last heartbeat: what is compared with the p99. */
  seenRunningForMs: number;
  /** The p99 it is past, and how many durations it comes from. */
  p99Ms: number;
  samples: number;
}

/** The autoscaling signal of a queue (docs/insight.md, "Autoscaling signal"). */
export interface QueueScaling {
  queue: string;
  desiredWorkers: number;
  /** Jobs stored per second (the arrival rate); null until the rate window has two samples. */
  arrivalPerSec: number | null;
  /** Jobs waiting to be handed out, and jobs running. */
  pending: number;
  inFlight: number;
  /** Typical run time of the queue's jobs (ms); null when no job ended in the stats window. */
  durationMs: number | null;
  /** Slots of one worker of the queue, and live workers serving it. */
  slotsPerWorker: number;
  serving: number;
}

export interface HealthReport {
  at: number;
  replicaId: string;
  /** How long a queue holding jobs may go without one leaving before it counts as stalled. */
  stallWindowMs: number;
  /** How long this replica has watched the queues (a stall is not flagged before the window). */
  watchedForMs: number;
  stalls: QueueStall[];
  /** Window of the durations the p99 comes from, and the fewest durations it needs. */
  outlierWindowMs: number;
  outlierMinSamples: number;
  slowJobs: SlowJob[];
  /** Workers each queue needs to keep up and clear its backlog within the drain target. */
  drainTargetMs: number;
  scaling: QueueScaling[];
}

/** Dead letters sharing a fingerprint: error class + normalised message + top stack frame. */
export interface FailureGroup {
  /** The fingerprint's id: pass it as `group` to dlq.retry or dlq.purge. */
  id: string;
  errorClass: string;
  /** The message with numbers, ids, quoted values and hex replaced (<n>, <uuid>, <str>, <hex>). */
  message: string;
  /** The first `at …` line of the stack without line and column; "" when there is no stack. */
  topFrame: string;
  count: number;
  firstAt: number;
  lastAt: number;
  /** The most recent one's message as it was. */
  lastMessage: string;
  queues: string[];
  /** Job names it struck (at most ten). */
  names: string[];
}

export interface FailureGroups {
  /** Dead letters that matched the filter. */
  total: number;
  truncated: boolean;
  /** Most frequent first. */
  groups: FailureGroup[];
}

/** Work coming due in one minute: delayed jobs (and long retries) and schedule runs. */
export interface DueMinute {
  /** Start of the minute (ms since epoch). */
  at: number;
  delayed: number;
  scheduled: number;
  /** Per queue; "unknown" holds delayed jobs the scan limit left unread. */
  queues: Record<string, { delayed: number; scheduled: number }>;
}

export interface DueForecast {
  at: number;
  /** The current minute first. */
  minutes: DueMinute[];
  delayed: number;
  scheduled: number;
  /** More delayed jobs than the scan limit: some were counted without their queue. */
  truncated: boolean;
}

// ---------------------------------------------------------------- audit log

/** One control action as the audit log keeps it (docs/insight.md, "Audit log"). */
export interface AuditEntry {
  /** Sequence in the audit stream (set when read back). */
  seq?: number;
  at: number;
  /** The API endpoint of the action: queues.pause, …, dlq.purge, schedules.create, … (docs/insight.md). */
  action: string;
  /** The caller identity the API received (`by`), or "unknown". */
  by: string;
  reason?: string;
  /** What the action was aimed at: a queue, a worker, a job, or a dead-letter filter. */
  target: {
    queue?: string;
    workerId?: string;
    jobId?: string;
    scheduleId?: string;
    /** A job name (a rate limit on one name). */
    name?: string;
    filter?: Record<string, unknown>;
  };
  ok: boolean;
  /** Why it was refused, when it was. */
  error?: string;
  commandId?: string;
  /** Workers that acknowledged the broadcast, and live workers that did not. */
  acknowledgedBy?: string[];
  missing?: string[];
  /** Dead letters the filter matched, and how many were retried or purged. */
  matched?: number;
  changed?: number;
  /** The pause's expiry, for a pause with one. */
  expiresAt?: number;
  /** The rate a limits.set put in force (10/s). */
  rate?: string;
  replicaId: string;
}

export interface AuditList {
  /** Entries that matched. */
  total: number;
  /** Oldest first; the newest `limit` of them. */
  entries: AuditEntry[];
  truncated: boolean;
}

// ---------------------------------------------------------------- rate limits (docs/rate-limits.md)

/** A rate limit in force, with the permits its fleet-wide counter granted in the current window. */
export interface LimitView {
  queue: string;
  /** Absent: the limit covers every job of the queue. */
  name?: string;
  limit: number;
  intervalMs: number;
  /** The same, written as in `--rate`: 10/s, 600/min, 5/250ms. */
  rate: string;
  by: string;
  at: number;
  reason?: string;
  window: { startedAt: number; used: number };
}

// ---------------------------------------------------------------- the endpoint table

interface Issuer {
  /** Who issues the command (kept in its record). @default "control-plane" */
  by?: string;
  reason?: string;
  /** How long to collect worker acknowledgements. @default the service's commandTimeoutMs */
  timeoutMs?: number;
}

export interface ApiSpec {
  ping: { request: Record<string, never>; reply: ReplicaInfo };
  status: { request: Record<string, never>; reply: FleetStatus };
  "queues.list": { request: Record<string, never>; reply: QueueView[] };
  "queues.get": { request: { queue: string }; reply: QueueDetail };
  "queues.pause": {
    /** forMs: resume by itself after this long (any control-plane replica does it). */
    request: Issuer & { queue: string; workerId?: string; forMs?: number };
    reply: CommandResult;
  };
  "queues.resume": { request: Issuer & { queue: string; workerId?: string }; reply: CommandResult };
  "workers.list": { request: { includeGone?: boolean }; reply: WorkerView[] };
  "workers.drain": { request: Issuer & { workerId: string }; reply: CommandResult };
  "jobs.running": {
    request: { queue?: string; limit?: number };
    reply: { total: number; jobs: RunningJobView[] };
  };
  "jobs.waiting": {
    request: { queue: string; limit?: number };
    reply: { backlog: number; jobs: WaitingJob[]; truncated: boolean };
  };
  "jobs.get": { request: { jobId: string }; reply: JobLookup };
  "jobs.cancel": { request: Issuer & { jobId: string }; reply: CommandResult };
  "jobs.enqueue": {
    request: {
      queue: string;
      name: string;
      payload?: unknown;
      jobId?: string;
      encoding?: "json" | "msgpack";
      maxAttempts?: number;
      timeoutMs?: number;
      /** Run no earlier than this many ms from now. */
      delayMs?: number;
      /** Run no earlier than this time (ms since epoch); a past time runs at once. */
      runAt?: number;
      /** At most one job per queue and key while it waits or runs (and within uniqueWindowMs). */
      uniqueKey?: string;
      uniqueWindowMs?: number;
      /** Jobs with the same key run one at a time, in order (docs/keyed-jobs.md). */
      key?: string;
    };
    reply: EnqueueReply;
  };
  "dlq.list": {
    request: DeadLetterFilter & { limit?: number };
    reply: { total: number; deadLetters: DeadLetterSummary[]; truncated: boolean };
  };
  "dlq.get": { request: { seq?: number; jobId?: string }; reply: DeadLetterDetail };
  "dlq.patterns": { request: DeadLetterFilter & { limit?: number }; reply: DeadLetterPatterns };
  "dlq.retry": {
    /** group: the dead letters of one failure group (failures.groups), within the filter. */
    request: DeadLetterFilter & { all?: boolean; dryRun?: boolean; by?: string; group?: string };
    reply: DeadLetterRetryResult;
  };
  "dlq.purge": {
    request: DeadLetterFilter & { all?: boolean; dryRun?: boolean; by?: string; group?: string };
    reply: DeadLetterPurgeResult;
  };
  "schedules.list": { request: Record<string, never>; reply: ScheduleView[] };
  "schedules.get": { request: { id: string }; reply: ScheduleView };
  "schedules.create": { request: ScheduleSpec; reply: ScheduleView };
  "schedules.update": { request: ScheduleChanges & { id: string }; reply: ScheduleView };
  "schedules.pause": { request: { id: string }; reply: ScheduleView };
  "schedules.resume": { request: { id: string }; reply: ScheduleView };
  "schedules.delete": { request: { id: string }; reply: { id: string; deleted: true } };
  "schedules.run-now": { request: { id: string }; reply: EnqueueReply };
  "scheduler.status": { request: Record<string, never>; reply: SchedulerStatusReply };
  stats: { request: { queue?: string; windowMs?: number }; reply: StatsReport };
  "audit.list": { request: { queue?: string; since?: number; limit?: number }; reply: AuditList };
  health: { request: { queue?: string }; reply: HealthReport };
  "failures.groups": { request: DeadLetterFilter & { limit?: number }; reply: FailureGroups };
  "forecast.due": { request: { queue?: string; minutes?: number }; reply: DueForecast };
  "limits.list": { request: { queue?: string }; reply: LimitView[] };
  /** The rate as text ("10/s") or as limit and intervalMs. */
  "limits.set": {
    request: Omit<Issuer, "timeoutMs"> & {
      queue: string;
      name?: string;
      rate?: string;
      limit?: number;
      intervalMs?: number;
    };
    reply: LimitView;
  };
  "limits.remove": {
    request: Omit<Issuer, "timeoutMs"> & { queue: string; name?: string };
    reply: { queue: string; name?: string; removed: true };
  };
}

export type Endpoint = keyof ApiSpec;
export type RequestOf<E extends Endpoint> = ApiSpec[E]["request"];
export type ReplyOf<E extends Endpoint> = ApiSpec[E]["reply"];

export const ENDPOINTS: readonly Endpoint[] = [
  "ping",
  "status",
  "queues.list",
  "queues.get",
  "queues.pause",
  "queues.resume",
  "workers.list",
  "workers.drain",
  "jobs.running",
  "jobs.waiting",
  "jobs.get",
  "jobs.cancel",
  "jobs.enqueue",
  "dlq.list",
  "dlq.get",
  "dlq.patterns",
  "dlq.retry",
  "dlq.purge",
  "schedules.list",
  "schedules.get",
  "schedules.create",
  "schedules.update",
  "schedules.pause",
  "schedules.resume",
  "schedules.delete",
  "schedules.run-now",
  "scheduler.status",
  "stats",
  "audit.list",
  "health",
  "failures.groups",
  "forecast.due",
  "limits.list",
  "limits.set",
  "limits.remove",
];
