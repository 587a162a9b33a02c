// The worker process's configuration, read from the environment so one image serves any
// application: which handler modules to load, which queues to serve, and how hard to work.
import { isAbsolute, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import {
  assertPriorityOption,
  type ConnectionSettings,
  connectionSettingsFromEnv,
  DEFAULT_HEARTBEAT_INTERVAL_MS,
  DEFAULT_PREFIX,
  type JobDefinition,
  type PriorityOption,
  WORKER_DEFAULTS,
} from "../runtime/index.ts";

export interface WorkerProcessConfig {
  connection: ConnectionSettings;
  prefix: string;
  queues: string[];
  handlerModules: string[];
  concurrency: number;
  prefetch: number | "auto";
  /** One slot budget for all queues, by queue order or by weight (docs/priorities.md). */
  priority: PriorityOption | undefined;
  maxPayloadBytes: number;
  shutdownGraceMs: number;
  events: boolean;
  workerId: string | undefined;
  heartbeatIntervalMs: number;
  /** Port of the /metrics and /healthz endpoint; 0 turns it off. */
  metricsPort: number;
  metricsHost: string;
}

export const DEFAULT_METRICS_PORT = 9464;

export class ConfigError extends Error {
  override name = "ConfigError";
}

function list(value: string | undefined, fallback: string[]): string[] {
  const items = (value ?? "")
    .split(",")
    .map((item) => item.trim())
    .filter(Boolean);
  return items.length > 0 ? items : fallback;
}

function positiveInteger(env: NodeJS.ProcessEnv, key: string, fallback: number): number {
  const raw = env[key];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new ConfigError(`${key} must be a positive integer, got "${raw}"`);
  }
  return value;
}

function prefetchSetting(env: NodeJS.ProcessEnv): number | "auto" {
  const raw = env.JETMESH_PREFETCH;
  if (raw === undefined || raw === "" || raw === "auto") return WORKER_DEFAULTS.prefetch;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new ConfigError(`JETMESH_PREFETCH must be "auto" or a whole number, 0 or more, got "${raw}"`);
  }
  return value;
}

function port(env: NodeJS.ProcessEnv, key: string, fallback: number): number {
  const raw = env[key];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 0 || value > 65535) {
    throw new ConfigError(`${key} must be a port number from 0 (off) to 65535, got "${raw}"`);
  }
  return value;
}

/** The example handlers shipped with the worker (what the local mesh runs). */
export const EXAMPLE_HANDLER_MODULES = ["workers/handlers/examples.ts"];

/**
 * Handler modules are required: a worker guessing them would dead-letter every job whose name it
 * does not know, which during a rolling deploy means real jobs.
 */
function handlerModules(env: NodeJS.ProcessEnv): string[] {
  const modules = list(env.JETMESH_HANDLERS, []);
  if (modules.length === 0) {
    throw new ConfigError(
      `JETMESH_HANDLERS is not set: name the module(s) exporting your job definitions, e.g. JETMESH_HANDLERS=${EXAMPLE_HANDLER_MODULES[0]}`,
    );
  }
  return modules;
}

/**
 * JETMESH_PRIORITY: `strict` (JETMESH_QUEUES order, first highest) or weights for every queue,
 * `critical=6,default=3,low=1`. Unset, each queue has JETMESH_CONCURRENCY slots of its own.
 */
function priority(
  env: NodeJS.ProcessEnv,
  queues: string[],
  prefetch: number | "auto",
): PriorityOption | undefined {
  const raw = (env.JETMESH_PRIORITY ?? "").trim();
  if (raw === "") return undefined;
  let option: PriorityOption = "strict";
  if (raw.toLowerCase() !== "strict") {
    const weights: Record<string, number> = {};
    for (const item of list(raw, [])) {
      const match = /^([^=\s]+)\s*=\s*(\d+)$/.exec(item);
      if (match === null) {
        throw new ConfigError(
          `JETMESH_PRIORITY must be "strict" or <queue>=<weight> pairs such as critical=6,default=3,low=1; "${item}" is neither`,
        );
      }
      weights[match[1] as string] = Number(match[2]);
    }
    option = { weights };
  }
  try {
    assertPriorityOption(option, queues);
  } catch (error) {
    throw new ConfigError(
      `JETMESH_PRIORITY="${raw}": ${(error as Error).message} (JETMESH_QUEUES lists them)`,
    );
  }
  // Priority lanes never prefetch (a held low job would take a high job's slot): only a set number clashes.
  if (prefetch !== "auto" && prefetch > 0) {
    throw new ConfigError("JETMESH_PREFETCH cannot be combined with JETMESH_PRIORITY: unset one of them");
  }
  return option;
}

export function readWorkerConfig(env: NodeJS.ProcessEnv = process.env): WorkerProcessConfig {
  const queues = list(env.JETMESH_QUEUES, ["default"]);
  const prefetch = prefetchSetting(env);
  return {
    connection: connectionSettingsFromEnv(env),
    prefix: env.JETMESH_PREFIX || DEFAULT_PREFIX,
    queues,
    handlerModules: handlerModules(env),
    concurrency: positiveInteger(env, "JETMESH_CONCURRENCY", WORKER_DEFAULTS.concurrency),
    prefetch,
    priority: priority(env, queues, prefetch),
    maxPayloadBytes: positiveInteger(env, "JETMESH_MAX_PAYLOAD_BYTES", WORKER_DEFAULTS.maxPayloadBytes),
    shutdownGraceMs: positiveInteger(env, "JETMESH_SHUTDOWN_GRACE_MS", WORKER_DEFAULTS.shutdownGraceMs),
    events: !["0", "false", "off", "no"].includes((env.JETMESH_EVENTS ?? "").toLowerCase()),
    workerId: env.JETMESH_WORKER_ID || undefined,
    heartbeatIntervalMs: positiveInteger(env, "JETMESH_HEARTBEAT_INTERVAL_MS", DEFAULT_HEARTBEAT_INTERVAL_MS),
    metricsPort: port(env, "JETMESH_METRICS_PORT", DEFAULT_METRICS_PORT),
    metricsHost: env.JETMESH_METRICS_HOST || "0.0.0.0",
  };
}

/** Loads job definitions from modules exporting `jobs` (an array) or a default array. */
export async function loadJobs(modules: readonly string[], cwd = process.cwd()): Promise<JobDefinition[]> {
  const jobs: JobDefinition[] = [];
  for (const path of modules) {
    const url = pathToFileURL(isAbsolute(path) ? path : resolve(cwd, path)).href;
    let loaded: Record<string, unknown>;
    try {
      loaded = (await import(url)) as Record<string, unknown>;
    } catch (error) {
      throw new ConfigError(
        `cannot load handler module "${path}" (JETMESH_HANDLERS): ${(error as Error).message}`,
      );
    }
    const exported = loaded.jobs ?? loaded.default;
    if (!Array.isArray(exported)) {
      throw new ConfigError(
        `handler module "${path}" must export "jobs": an array of defineJob(...) definitions`,
      );
    }
    jobs.push(...(exported as JobDefinition[]));
  }
  return jobs;
}
