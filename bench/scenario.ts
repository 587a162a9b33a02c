// The vocabulary of the harness: what a scenario is, what a system implements, what one run returns.

/** One run's figures, keyed by metric (e.g. `{ rate: 48000 }` or `{ p50: 0.7, p99: 4.1 }`). */
export type Sample = Record<string, number>;

export interface MetricSpec {
  key: string;
  /** Shown in the table, with its unit. */
  label: string;
  better: "higher" | "lower";
  /** No ratio to the baseline in the table (e.g. a growth that may be zero or negative). */
  noRatio?: boolean;
}

export type ServiceName = "nats" | "redis";

/** The servers started for this benchmark run; an absent one could not be started here. */
export interface Services {
  natsUrl: string;
  redis?: { host: string; port: number };
}

export interface RunContext {
  services: Services;
  /** Unique per run and safe as a stream, consumer, queue or subject token: `[A-Za-z0-9_]+`. */
  runId: string;
  /** Aborted on timeout or Ctrl-C; a runner stops waiting, cleans up and rethrows. */
  signal: AbortSignal;
}

export type Runner = (ctx: RunContext) => Promise<Sample>;

export interface Scenario {
  name: string;
  description: string;
  metrics: MetricSpec[];
  /** One runner per system that implements this scenario, keyed by system name. */
  systems: Record<string, Runner>;
  /** A run's time limit when the profile's does not fit this scenario. */
  runTimeoutMs?: number;
}

/** Publish `messages` no-op jobs as fast as the system allows, with at most `window` unconfirmed. */
export interface EnqueueParams {
  messages: number;
  window: number;
}

/** Complete `messages` pre-filled no-op jobs with `concurrency` handlers in one process. */
export interface DrainParams {
  messages: number;
  concurrency: number;
}

/** Publish at a steady `rate` (jobs/s) and time each job from publish call to handler start. */
export interface LatencyParams {
  rate: number;
  /** Jobs sent in this first stretch warm connections and JIT up and are not measured. */
  warmupMs: number;
  durationMs: number;
  concurrency: number;
}

/** A job payload of about `bytes` bytes once encoded with `encoding` (see support/payload.ts). */
export interface PayloadSpec {
  bytes: number;
  encoding: "json" | "msgpack";
}

/** `enqueue` with a payload of a given size and encoding instead of the 14-byte no-op job. */
export interface PayloadEnqueueParams extends EnqueueParams {
  payload: PayloadSpec;
}

/** `drain` of pre-filled jobs carrying a payload of a given size and encoding. */
export interface PayloadDrainParams extends DrainParams {
  payload: PayloadSpec;
}

/** Complete `messages` pre-filled no-op jobs with `processes` worker processes of `concurrency` each. */
export interface ProcessesParams {
  messages: number;
  processes: number;
  concurrency: number;
}

/**
 * Memory of one worker process (concurrency `concurrency`): idle for `idleMs`, then through a drain
 * of `messages` jobs enqueued while it runs, sampled after a GC at `checkpoints` (fractions of the
 * jobs handled) and once more when it is idle again.
 */
export interface MemoryParams {
  messages: number;
  concurrency: number;
  idleMs: number;
  checkpoints: [number, number];
}

/** `workers` simulated workers receive `pauses` pause commands issued through the control plane. */
export interface PauseParams {
  workers: number;
  pauses: number;
}

/** `workers` simulated workers send a heartbeat every `intervalMs` for `durationMs`. */
export interface HeartbeatParams {
  workers: number;
  intervalMs: number;
  durationMs: number;
}

/**
 * The delay store with `pending` delayed jobs due an hour or more ahead, while `due` jobs come due
 * evenly over `spreadMs`: memory of the scheduler's process and how late the due jobs fire.
 */
export interface DelayedParams {
  pending: number;
  due: number;
  spreadMs: number;
}

/**
 * A queueing system under test. A system implements the scenario kinds it supports; the
 * registry in scenarios.ts pairs them with the profile's parameters.
 */
export interface System {
  name: string;
  /** Servers the system runs on; it is skipped when one of them could not be started. */
  needs: ServiceName[];
  enqueue?(ctx: RunContext, params: EnqueueParams): Promise<Sample>;
  drain?(ctx: RunContext, params: DrainParams): Promise<Sample>;
  latency?(ctx: RunContext, params: LatencyParams): Promise<Sample>;
  /** → `{ rate }` */
  enqueuePayload?(ctx: RunContext, params: PayloadEnqueueParams): Promise<Sample>;
  /** → `{ rate }` */
  drainPayload?(ctx: RunContext, params: PayloadDrainParams): Promise<Sample>;
  /** → `{ rate }`, the aggregate of all processes */
  drainProcesses?(ctx: RunContext, params: ProcessesParams): Promise<Sample>;
  /** → `MemorySample` keys, in MB */
  memory?(ctx: RunContext, params: MemoryParams): Promise<Sample>;
  /** → `{ pending, enqueueRate, idleRss, heldRss, peakRss, p50, p99, max }`, MB and ms */
  delayed?(ctx: RunContext, params: DelayedParams): Promise<Sample>;
}

/**
 * One worker (concurrency `concurrency`) drains `messages` pre-filled no-op jobs, unkeyed and then
 * spread over each count of `keys` on a queue of `partitions` key partitions.
 */
export interface KeyedParams {
  messages: number;
  keys: number[];
  partitions: number;
  concurrency: number;
}
