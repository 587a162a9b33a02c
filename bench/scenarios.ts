// The scenario registry: each scenario with its profile's parameters and every system that runs it.
import type { Profile } from "./profile.ts";
import type { MetricSpec, PayloadSpec, RunContext, Runner, Sample, Scenario, System } from "./scenario.ts";
import { formatBytes, payloadFor } from "./support/payload.ts";
import { heartbeatAggregation, pausePropagation } from "./systems/jetmesh-control.ts";
import { keyedMetric, keyedThroughput } from "./systems/jetmesh-keyed.ts";

/** The system every ratio is taken against: what JetStream gives without a job layer. */
export const BASELINE = "raw-jetstream";

const RATE: MetricSpec = { key: "rate", label: "msgs/s", better: "higher" };
const LATENCY: MetricSpec[] = [
  { key: "p50", label: "p50 ms", better: "lower" },
  { key: "p99", label: "p99 ms", better: "lower" },
  { key: "p999", label: "p99.9 ms", better: "lower" },
];

const PAYLOAD_RATE: MetricSpec[] = [RATE, { key: "mbps", label: "MB/s", better: "higher" }];
const PROCESSES: MetricSpec[] = [
  RATE,
  // The busiest process's share of the jobs over a fair share: 1.00 is an even spread.
  { key: "imbalance", label: "busiest/fair", better: "lower", noRatio: true },
];
const MEMORY: MetricSpec[] = [
  { key: "idleRss", label: "idle RSS MB", better: "lower" },
  { key: "idleHeap", label: "idle heap MB", better: "lower" },
  { key: "peakRss", label: "load RSS MB", better: "lower" },
  { key: "peakHeap", label: "load heap MB", better: "lower" },
  { key: "heapGrowth", label: "heap growth MB", better: "lower", noRatio: true },
  { key: "retainedHeap", label: "retained heap MB", better: "lower", noRatio: true },
];

const DELAYED: MetricSpec[] = [
  { key: "enqueueRate", label: "delayed enqueue/s", better: "higher", noRatio: true },
  { key: "idleRss", label: "scheduler idle RSS MB", better: "lower", noRatio: true },
  { key: "heldRss", label: "scheduler RSS MB, all pending", better: "lower", noRatio: true },
  { key: "peakRss", label: "scheduler peak RSS MB", better: "lower", noRatio: true },
  { key: "p50", label: "lateness p50 ms", better: "lower", noRatio: true },
  { key: "p99", label: "lateness p99 ms", better: "lower", noRatio: true },
];
const PAUSE: MetricSpec[] = [
  { key: "p50", label: "p50 ms", better: "lower", noRatio: true },
  { key: "p99", label: "p99 ms", better: "lower", noRatio: true },
  { key: "max", label: "max ms", better: "lower", noRatio: true },
];
const HEARTBEATS: MetricSpec[] = [
  { key: "cpu", label: "CPU % of a core", better: "lower", noRatio: true },
  { key: "cpuPerHeartbeat", label: "CPU µs/heartbeat", better: "lower", noRatio: true },
  { key: "peakRss", label: "peak RSS MB", better: "lower", noRatio: true },
  { key: "heap", label: "heap MB", better: "lower", noRatio: true },
  { key: "heapGrowth", label: "heap growth MB", better: "lower", noRatio: true },
];

type Method<P> = (ctx: RunContext, params: P) => Promise<Sample>;

/** Keys, by system name, a runner bound to `params` for each system whose `pick` is defined. */
function runners<P>(
  systems: System[],
  pick: (system: System) => Method<P> | undefined,
  params: P,
): Record<string, Runner> {
  const entries: [string, Runner][] = [];
  for (const system of systems) {
    const method = pick(system);
    if (method !== undefined) entries.push([system.name, (ctx) => method.call(system, ctx, params)]);
  }
  return Object.fromEntries(entries);
}

/** Adds the payload bytes per second (MB = 2^20 bytes) to each sample's job rate. */
function withThroughput(
  runnersBySystem: Record<string, Runner>,
  payload: PayloadSpec,
): Record<string, Runner> {
  const bytes = payloadFor(payload).data.length;
  return Object.fromEntries(
    Object.entries(runnersBySystem).map(([name, runner]): [string, Runner] => [
      name,
      async (ctx) => {
        const sample = await runner(ctx);
        return { ...sample, mbps: ((sample.rate ?? Number.NaN) * bytes) / (1024 * 1024) };
      },
    ]),
  );
}

function payloadScenarios(profile: Profile, systems: System[]): Scenario[] {
  const { sizes, encodings, concurrency } = profile.payloads;
  const specs = sizes.flatMap((size) => encodings.map((encoding) => ({ size, encoding })));
  const enqueues = specs.map(({ size, encoding }): Scenario => {
    const payload = { bytes: size.bytes, encoding };
    return {
      name: `enqueue ${formatBytes(size.bytes)} ${encoding}`,
      description: `publish ${size.enqueue.messages} jobs of ${payloadFor(payload).data.length} bytes (${encoding}), ≤ ${size.enqueue.window} unconfirmed`,
      metrics: PAYLOAD_RATE,
      systems: withThroughput(
        runners(systems, (system) => system.enqueuePayload, { ...size.enqueue, payload }),
        payload,
      ),
    };
  });
  const drains = specs.map(({ size, encoding }): Scenario => {
    const payload = { bytes: size.bytes, encoding };
    return {
      name: `drain ${formatBytes(size.bytes)} ${encoding} c=${concurrency}`,
      description: `complete ${size.drainMessages} pre-filled jobs of ${payloadFor(payload).data.length} bytes (${encoding}), ${concurrency} at a time`,
      metrics: PAYLOAD_RATE,
      systems: withThroughput(
        runners(systems, (system) => system.drainPayload, {
          messages: size.drainMessages,
          concurrency,
          payload,
        }),
        payload,
      ),
    };
  });
  return [...enqueues, ...drains];
}

/** Jetmesh's control plane has no counterpart in the baselines: these run for jetmesh alone. */
function controlScenarios(profile: Profile, systems: System[]): Scenario[] {
  if (!systems.some((system) => system.name === "jetmesh")) return [];
  const { pause, heartbeats } = profile.control;
  return [
    {
      name: `control pause w=${pause.workers}`,
      description: `${pause.pauses} pauses through the control plane's API, each to ${pause.workers} simulated workers: API call → each worker's receipt`,
      metrics: PAUSE,
      systems: { jetmesh: (ctx) => pausePropagation(ctx, pause) },
    },
    {
      name: `control heartbeats w=${heartbeats.workers}`,
      description: `the control plane aggregating heartbeats of ${heartbeats.workers} simulated workers, one each ${heartbeats.intervalMs / 1000} s, for ${heartbeats.durationMs / 1000} s`,
      metrics: HEARTBEATS,
      systems: { jetmesh: (ctx) => heartbeatAggregation(ctx, heartbeats) },
    },
  ];
}

/** Keyed jobs have no counterpart in the baselines: jetmesh alone, each key count against unkeyed. */
function keyedScenarios(profile: Profile, systems: System[]): Scenario[] {
  if (!systems.some((system) => system.name === "jetmesh")) return [];
  const { keyed } = profile;
  const counts = [undefined, ...keyed.keys];
  return [
    {
      name: `keyed c=${keyed.concurrency}`,
      description: `one worker (c=${keyed.concurrency}) completes ${keyed.messages} pre-filled no-op jobs: unkeyed, then over ${keyed.keys.join(", ")} keys (${keyed.partitions} partitions), in one run`,
      metrics: counts.map((keys) => ({
        key: keyedMetric(keys),
        label: keys === undefined ? "unkeyed msgs/s" : `${keys} key${keys === 1 ? "" : "s"} msgs/s`,
        better: "higher" as const,
        noRatio: true,
      })),
      systems: { jetmesh: (ctx) => keyedThroughput(ctx, keyed) },
      // Four drains per run.
      runTimeoutMs: profile.runTimeoutMs * 2,
    },
  ];
}

export function buildScenarios(profile: Profile, systems: System[]): Scenario[] {
  const { enqueue, drain, latency, processes, memory, delayed } = profile;
  return [
    {
      name: "enqueue",
      description: `publish ${enqueue.messages} no-op jobs, ≤ ${enqueue.window} unconfirmed at a time`,
      metrics: [RATE],
      systems: runners(systems, (system) => system.enqueue, enqueue),
    },
    ...drain.concurrencies.map(
      (concurrency): Scenario => ({
        name: `drain c=${concurrency}`,
        description: `complete ${drain.messages} pre-filled no-op jobs, ${concurrency} at a time, one process`,
        metrics: [RATE],
        systems: runners(systems, (system) => system.drain, { messages: drain.messages, concurrency }),
      }),
    ),
    {
      name: "latency",
      description: `enqueue→start at ${latency.rate} jobs/s for ${latency.durationMs / 1000} s, concurrency ${latency.concurrency}`,
      metrics: LATENCY,
      systems: runners(systems, (system) => system.latency, latency),
    },
    ...payloadScenarios(profile, systems),
    ...processes.counts.map(
      (count): Scenario => ({
        name: `processes p=${count} c=${processes.concurrency}`,
        description: `${count} worker process(es) of concurrency ${processes.concurrency} complete ${processes.messages} pre-filled no-op jobs`,
        metrics: PROCESSES,
        systems: runners(systems, (system) => system.drainProcesses, {
          messages: processes.messages,
          processes: count,
          concurrency: processes.concurrency,
        }),
      }),
    ),
    {
      name: "memory",
      description: `one worker process (c=${memory.concurrency}): idle, then draining ${memory.messages} jobs enqueued meanwhile; growth from ${memory.checkpoints[0] * 100}% to ${memory.checkpoints[1] * 100}% of the drain`,
      metrics: MEMORY,
      systems: runners(systems, (system) => system.memory, memory),
    },
    {
      name: "delayed",
      description: `${delayed.pending} delayed jobs pending (due 1-2 h ahead) while ${delayed.due} come due over ${delayed.spreadMs / 1000} s: scheduler process memory, firing lateness`,
      metrics: DELAYED,
      systems: runners(systems, (system) => system.delayed, delayed),
      // Filling the store is most of the run: about 5 minutes for a million here.
      runTimeoutMs: Math.max(profile.runTimeoutMs, delayed.pending * 2),
    },
    ...keyedScenarios(profile, systems),
    ...controlScenarios(profile, systems),
  ];
}
