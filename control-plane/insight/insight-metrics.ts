// Metrics of the insight checks, on the control plane's registry: stalled queues with their
// cause, running jobs past their p99, the backlog trend and the autoscaling signal, as of the last
// sampling tick (a scrape reads memory only).
import { Gauge, type Registry } from "prom-client";
import type { StallCause } from "../api/protocol.ts";
import { perQueueGauge } from "../metrics/control-plane-metrics.ts";
import type { QueueStats } from "../status/queue-stats.ts";
import type { QueueHealth } from "./queue-health.ts";

const CAUSES: readonly StallCause[] = [
  "no-workers",
  "paused",
  "unowned-partitions",
  "slots-busy",
  "not-delivering",
];

export function registerInsightMetrics(
  registry: Registry,
  sources: {
    health: Pick<QueueHealth, "stalls" | "slowJobs" | "scaling">;
    stats: Pick<QueueStats, "latest">;
  },
): void {
  const registers = [registry];
  const queues = () => sources.stats.latest().map((q) => q.queue);
  const perQueue = (name: string, help: string, series: () => Iterable<[string, number]>) =>
    perQueueGauge(registers, name, help, series);

  new Gauge({
    name: "jetmesh_queue_stalled",
    help: "1 while the queue holds jobs and none has left it for the stall window (JETMESH_CP_STALL_WINDOW_MS), else 0; the cause label says why: no-workers, paused, unowned-partitions, slots-busy, not-delivering.",
    labelNames: ["queue", "cause"],
    registers,
    collect() {
      this.reset();
      const stalled = new Map(sources.health.stalls().map((s) => [s.queue, s.cause]));
      // Every cause has a series, so a change of cause never leaves a gap in a graph.
      for (const queue of queues())
        for (const cause of CAUSES) this.set({ queue, cause }, stalled.get(queue) === cause ? 1 : 0);
    },
  });
  perQueue(
    "jetmesh_queue_stalled_seconds",
    "How long a stalled queue has gone without a job leaving it; 0 when it is not stalled.",
    () => {
      const stalled = new Map(sources.health.stalls().map((s) => [s.queue, s.stalledForMs / 1000]));
      return queues().map((queue) => [queue, stalled.get(queue) ?? 0]);
    },
  );
  perQueue(
    "jetmesh_jobs_slow",
    "Running jobs that have run longer than the p99 of their job name's recent durations.",
    () => {
      const counts = new Map<string, number>();
      for (const job of sources.health.slowJobs()) counts.set(job.queue, (counts.get(job.queue) ?? 0) + 1);
      return queues().map((queue) => [queue, counts.get(queue) ?? 0]);
    },
  );
  perQueue(
    "jetmesh_queue_desired_workers",
    "Workers the queue needs: (arrival rate × typical duration + pending × duration / drain target) / slots per worker, rounded up; 0 when it is idle. For autoscalers.",
    () => sources.health.scaling().map((s) => [s.queue, s.desiredWorkers]),
  );
  const trend = (field: "timeToDrainMs" | "timeToFullMs") => () =>
    sources.stats.latest().flatMap((q): [string, number][] => {
      const ms = q.rates?.[field];
      return ms === null || ms === undefined ? [] : [[q.queue, ms / 1000]];
    });
  perQueue(
    "jetmesh_queue_time_to_drain_seconds",
    "Time to work off the backlog at the current rate of jobs leaving the queue (arrivals aside); absent while none leave.",
    trend("timeToDrainMs"),
  );
  perQueue(
    "jetmesh_queue_time_to_full_seconds",
    "Time until the queue reaches its limit (max jobs or max bytes) at the current growth; absent unless it grows against a limit.",
    trend("timeToFullMs"),
  );
}
