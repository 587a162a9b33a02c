// The scenario registry: each scenario with its profile's parameters and every system that runs it.
import type { Profile } from "./profile.ts";
import type { MetricSpec, RunContext, Runner, Sample, Scenario, System } from "./scenario.ts";

/** The system every ratio is taken against: what JetStream gives without a job layer. */
export const BASELINE = "raw-jetstream";

const RATE: MetricSpec = { key: "rate", label: "msgs/s", better: "higher" };
const LATENCY: MetricSpec[] = [
  { key: "p50", label: "p50 ms", better: "lower" },
  { key: "p99", label: "p99 ms", better: "lower" },
  { key: "p999", label: "p99.9 ms", better: "lower" },
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

export function buildScenarios(profile: Profile, systems: System[]): Scenario[] {
  const { enqueue, drain, latency } = profile;
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
  ];
}
