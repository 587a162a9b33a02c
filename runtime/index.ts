// jetmesh's public face: everything a producer or a worker needs, and nothing internal.

export type { ClientOptions, EnqueueOptions, EnqueueResult, JobToEnqueue } from "./client/client.ts";
export { DEFAULT_RESULT_TIMEOUT_MS, JetmeshClient } from "./client/client.ts";
export { jobKey, newJobId } from "./client/job-id.ts";
export type { LeaseOptions, LeaseRecord } from "./coordination/kv-lease.ts";
export { Lease } from "./coordination/kv-lease.ts";
export type { JetmeshErrorCode } from "./errors.ts";
export {
  DecodeError,
  JetmeshError,
  JobFailedError,
  PayloadTooLargeError,
  PermanentJobError,
  QueueFullError,
  QueueNotFoundError,
  ResultTimeoutError,
  ResultUnavailableError,
} from "./errors.ts";
export type { ConnectionSettings } from "./jetstream/connection.ts";
export { connectionSettingsFromEnv, connectNats, DEFAULT_NATS_URL } from "./jetstream/connection.ts";
export type { QueueOptions, QueueSettings } from "./jetstream/queues.ts";
export { attemptsBucket, QUEUE_DEFAULTS } from "./jetstream/queues.ts";
export {
  KeyedRouting,
  keyedFilter,
  keyedJobNameReader,
  partitionConsumerPrefix,
  partitionFilter,
} from "./keyed/partitions.ts";
export type { LimitRecord } from "./limits/limit-store.ts";
export { LimitStore } from "./limits/limit-store.ts";
export { permitsUsed } from "./limits/permit-counter.ts";
export type { LimitTarget, RateLimit } from "./limits/rate.ts";
export { checkRate, formatRate, limitKey, limitsBucket, parseRate, permitsBucket } from "./limits/rate.ts";
export { createLogger } from "./observability/logging.ts";
export { DURATION_BUCKETS_SECONDS, WAIT_BUCKETS_SECONDS, WorkerMetrics } from "./observability/metrics.ts";
export type { HttpRoute, MetricsServer } from "./observability/metrics-server.ts";
export { startMetricsServer } from "./observability/metrics-server.ts";
export { startTelemetry, tracingRequested } from "./observability/telemetry.ts";
export {
  DEFAULT_RESULT_TTL_MS,
  resultsBucket,
  UNIQUE_MAX_AGE_MS,
  uniqueBucket,
} from "./results/buckets.ts";
export type { JobState, JobStateName } from "./results/job-state.ts";
export { decodeJobState, MAX_RESULT_BYTES } from "./results/job-state.ts";
export type { UniqueOptions } from "./results/unique-claims.ts";
export type {
  MissedRunPolicy,
  Schedule,
  ScheduleJobOptions,
  ScheduleRule,
  ScheduleSpec,
  ScheduleState,
} from "./scheduling/schedule.ts";
export {
  dueTimesBetween,
  InvalidScheduleError,
  lastDueAtOrBefore,
  nextDueAfter,
  scheduledJobId,
  validateSchedule,
} from "./scheduling/schedule.ts";
export type { ScheduleChanges, ScheduleView } from "./scheduling/schedule-store.ts";
export { ScheduleNotFoundError, ScheduleStore, schedulesBucket } from "./scheduling/schedule-store.ts";
export { VERSION } from "./version.ts";
export type { Encoding } from "./wire/codec.ts";
export { decodePayload, encodePayload } from "./wire/codec.ts";
export type { CommandAck, CommandOrigin, ControlCommand, ControlCommandType } from "./wire/control.ts";
export { ControlKey, controlBucket } from "./wire/control.ts";
export type { LifecycleEvent } from "./wire/events.ts";
export { parseLifecycleEvents } from "./wire/events.ts";
export { ContentType, Header, WIRE_VERSION } from "./wire/headers.ts";
export type { Heartbeat, QueueStatus, RunningJobStatus } from "./wire/heartbeat.ts";
export type { LifecycleEventType } from "./wire/subjects.ts";
export { DEFAULT_PREFIX, Subjects } from "./wire/subjects.ts";
export type { JobContext, JobDefinition } from "./worker/define-job.ts";
export { DEFAULT_JOB_TIMEOUT_MS, defineJob } from "./worker/define-job.ts";
export type { DeadReason, FailureKind } from "./worker/failure.ts";
export { DEFAULT_HEARTBEAT_INTERVAL_MS } from "./worker/heartbeat.ts";
export type { RunningJob } from "./worker/job-runner.ts";
export type { PriorityOption } from "./worker/priority-order.ts";
export { assertPriorityOption } from "./worker/priority-order.ts";
export type { Backoff } from "./worker/retry-policy.ts";
export { DEFAULT_BACKOFF, MAX_RETRY_DELAY_MS } from "./worker/retry-policy.ts";
export type { WorkerOptions } from "./worker/worker.ts";
export { WORKER_DEFAULTS, Worker } from "./worker/worker.ts";
