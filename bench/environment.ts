// What the figures were measured on: without versions and core count a result cannot be compared.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { findNatsServerBinary } from "../deploy/local/nats-server.ts";
import { redisServerVersion } from "./services/redis-server.ts";

export interface Environment {
  date: string;
  command: string;
  node: string;
  cpus: number;
  cpuModel: string;
  /** 1-minute load averages: other work on the machine skews the figures. */
  loadAverage: { atStart: number; atEnd?: number };
  natsServer: string | undefined;
  redisServer: string | undefined;
  packages: Record<string, string | undefined>;
}

const PACKAGES = ["@nats-io/transport-node", "@nats-io/jetstream", "bullmq", "ioredis"];

export function currentLoad(): number {
  return loadavg()[0] ?? Number.NaN;
}

function natsServerVersion(): string | undefined {
  const binary = findNatsServerBinary();
  if (binary === undefined) return undefined;
  const output = spawnSync(binary, ["--version"], { encoding: "utf8" }).stdout;
  return /v(\d+\.\d+\.\d+\S*)/.exec(output)?.[1] ?? output.trim();
}

function installedVersion(name: string): string | undefined {
  try {
    const manifest = new URL(`../node_modules/${name}/package.json`, import.meta.url);
    return (JSON.parse(readFileSync(manifest, "utf8")) as { version?: string }).version;
  } catch {
    return undefined;
  }
}

export function describeEnvironment(command: string): Environment {
  return {
    date: new Date().toISOString(),
    command,
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? "unknown",
    loadAverage: { atStart: currentLoad() },
    natsServer: natsServerVersion(),
    redisServer: redisServerVersion(),
    packages: Object.fromEntries(PACKAGES.map((name) => [name, installedVersion(name)])),
  };
}
