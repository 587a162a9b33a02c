// Options of the control plane service with their defaults in one place, and how the process
// reads them from the environment (docs/control-plane.md, "Configuration").
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import {
  type ConnectionSettings,
  connectionSettingsFromEnv,
  DEFAULT_PREFIX,
  type HttpRoute,
} from "../runtime/index.ts";
import { type ConsoleOptions, consoleOptionsFromEnv } from "./console/options.ts";

export interface ControlPlaneOptions {
  /** An open connection to use (the service will not close it), or settings to open one. */
  connection?: NatsConnection | ConnectionSettings;
  /** Subject prefix of the mesh. @default "jetmesh" */
  prefix?: string;
  /** Name of this replica in logs and `ping`. @default `<host>-<pid>` */
  replicaId?: string;
  /** How often queues are sampled for rates, and stale drain records cleared. @default 5000 */
  sampleIntervalMs?: number;
  /** Window the queue rates are measured over. @default 60000 */
  rateWindowMs?: number;
  /** How long commands collect worker acknowledgements. @default 1000 */
  commandTimeoutMs?: number;
  /** Most messages one lookup or dead-letter filter reads from a stream. @default 10000 */
  scanLimit?: number;
  /** How long gone workers stay listed (the heartbeat stream's max age). @default 3600000 */
  heartbeatRetentionMs?: number;
  /** Record recent job outcomes for lookups. @default true */
  recordOutcomes?: boolean;
  /** How long outcome records are kept. @default 86400000 */
  outcomesTtlMs?: number;
  /** Size bound of the outcomes bucket (oldest records go first). @default 67108864 */
  outcomesMaxBytes?: number;
  /** How long a queue holding jobs may go without one leaving before it is flagged stalled. @default 300000 */
  stallWindowMs?: number;
  /** Window of the durations whose p99 running jobs are compared with (at most 30 minutes). @default 1800000 */
  outlierWindowMs?: number;
  /** Fewest durations of a job name before its running jobs can be flagged slow. @default 20 */
  outlierMinSamples?: number;
  /** How soon the autoscaling signal (jetmesh_queue_desired_workers) means to clear a backlog. @default 300000 */
  autoscaleDrainMs?: number;
  /** How long audit entries are kept (the audit stream's max age). @default 2592000000 (30 days) */
  auditRetentionMs?: number;
  /** Replicas of the streams the control plane creates (heartbeats, outcomes). @default 1 */
  replicas?: number;
  /** Run the scheduler (delayed jobs, long retries, recurring schedules) when this replica holds its lease. @default true */
  scheduler?: boolean;
  /** Pause between two scheduler passes over what is due. @default 200 */
  schedulerTickMs?: number;
  /** How long a silent active scheduler keeps its lease before another replica takes over. @default 3000 */
  schedulerLeaseMs?: number;
  /**
   * Port of the HTTP server (`/metrics`, `/healthz`, and `httpRoutes`); `0` picks a free port,
   * read back from `controlPlane.httpPort`. Unset: no HTTP server (the process default is 9465).
   */
  httpPort?: number;
  /** Address the HTTP server listens on. @default "0.0.0.0" */
  httpHost?: string;
  /** Further handlers on the HTTP server, tried in order before `/metrics` and `/healthz`. */
  httpRoutes?: readonly HttpRoute[];
  /** The web console under `/console/` on the HTTP server (docs/console.md). @default enabled, read-only */
  console?: ConsoleOptions;
  logger?: Logger;
}

/** Port of the control plane process's `/metrics` and `/healthz` unless `JETMESH_CP_HTTP_PORT` says otherwise. */
export const DEFAULT_CONTROL_PLANE_HTTP_PORT = 9465;

export const CONTROL_PLANE_DEFAULTS = {
  sampleIntervalMs: 5000,
  rateWindowMs: 60_000,
  commandTimeoutMs: 1000,
  scanLimit: 10_000,
  heartbeatRetentionMs: 3_600_000,
  recordOutcomes: true,
  outcomesTtlMs: 86_400_000,
  outcomesMaxBytes: 64 * 1024 * 1024,
  replicas: 1,
  auditRetentionMs: 30 * 86_400_000,
  stallWindowMs: 300_000,
  outlierWindowMs: 1_800_000,
  outlierMinSamples: 20,
  autoscaleDrainMs: 300_000,
  outcomesMaxInFlight: 1024,
  scheduler: true,
  schedulerTickMs: 200,
  schedulerLeaseMs: 3000,
} as const;

export class ControlPlaneConfigError extends Error {
  override name = "ControlPlaneConfigError";
}

function positive(env: NodeJS.ProcessEnv, key: string): number | undefined {
  const raw = env[key];
  if (raw === undefined || raw === "") return undefined;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 1)
    throw new ControlPlaneConfigError(`${key} must be a positive integer, got "${raw}"`);
  return value;
}

function port(env: NodeJS.ProcessEnv, key: string): number | undefined {
  const raw = env[key];
  if (raw === undefined || raw === "") return undefined;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 0 || value > 65_535)
    throw new ControlPlaneConfigError(`${key} must be a port number from 0 (off) to 65535, got "${raw}"`);
  return value;
}

/** The service's options from the environment; connection settings use the worker's NATS_* names. */
export function controlPlaneOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): ControlPlaneOptions {
  const options: ControlPlaneOptions = {
    connection: connectionSettingsFromEnv(env),
    prefix: env.JETMESH_PREFIX || DEFAULT_PREFIX,
  };
  if (env.JETMESH_CP_REPLICA_ID) options.replicaId = env.JETMESH_CP_REPLICA_ID;
  const numbers = {
    sampleIntervalMs: "JETMESH_CP_SAMPLE_INTERVAL_MS",
    rateWindowMs: "JETMESH_CP_RATE_WINDOW_MS",
    commandTimeoutMs: "JETMESH_CP_COMMAND_TIMEOUT_MS",
    scanLimit: "JETMESH_CP_SCAN_LIMIT",
    heartbeatRetentionMs: "JETMESH_CP_HEARTBEAT_RETENTION_MS",
    outcomesTtlMs: "JETMESH_CP_OUTCOMES_TTL_MS",
    outcomesMaxBytes: "JETMESH_CP_OUTCOMES_MAX_BYTES",
    replicas: "JETMESH_CP_REPLICAS",
    auditRetentionMs: "JETMESH_CP_AUDIT_RETENTION_MS",
    stallWindowMs: "JETMESH_CP_STALL_WINDOW_MS",
    outlierWindowMs: "JETMESH_CP_OUTLIER_WINDOW_MS",
    outlierMinSamples: "JETMESH_CP_OUTLIER_MIN_SAMPLES",
    autoscaleDrainMs: "JETMESH_CP_AUTOSCALE_DRAIN_MS",
    schedulerTickMs: "JETMESH_CP_SCHEDULER_TICK_MS",
    schedulerLeaseMs: "JETMESH_CP_SCHEDULER_LEASE_MS",
  } as const;
  for (const [field, key] of Object.entries(numbers) as [keyof typeof numbers, string][]) {
    const value = positive(env, key);
    if (value !== undefined) options[field] = value;
  }
  const httpPort = port(env, "JETMESH_CP_HTTP_PORT") ?? DEFAULT_CONTROL_PLANE_HTTP_PORT;
  if (httpPort !== 0) options.httpPort = httpPort;
  if (env.JETMESH_CP_HTTP_HOST) options.httpHost = env.JETMESH_CP_HTTP_HOST;
  options.console = consoleOptionsFromEnv(env);
  const outcomes = env.JETMESH_CP_RECORD_OUTCOMES;
  if (outcomes !== undefined && outcomes !== "") options.recordOutcomes = !isOff(outcomes);
  const scheduler = env.JETMESH_CP_SCHEDULER;
  if (scheduler !== undefined && scheduler !== "") options.scheduler = !isOff(scheduler);
  return options;
}

function isOff(value: string): boolean {
  return ["0", "false", "off", "no"].includes(value.toLowerCase());
}
