// The vocabulary of the harness: what a scenario is, what a system implements, what one run returns.

/** One run's figures, keyed by metric (e.g. `{ rate: 48000 }` or `{ p50: 0.7, p99: 4.1 }`). */
export type Sample = Record<string, number>;

export interface MetricSpec {
  key: string;
  /** Shown in the table, with its unit. */
  label: string;
  better: "higher" | "lower";
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
}
