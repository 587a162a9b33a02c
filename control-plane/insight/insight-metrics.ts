// Metrics of the health checks, on the control plane's registry: stalled queues with their
// cause and running jobs past their p99, as of the last sampling tick (a scrape reads memory only).
import { Gauge, type Registry } from "prom-client";
import type { StallCause } from "../api/protocol.ts";
import type { QueueStats } from "../status/queue-stats.ts";
import type { QueueHealth } from "./queue-health.ts";

const CAUSES: readonly StallCause[] = ["no-workers", "paused", "slots-busy", "not-delivering"];

export function registerInsightMetrics(
  registry: Registry,
  sources: {
    health: Pick<QueueHealth, "stalls" | "slowJobs" | "scaling">;
    stats: Pick<QueueStats, "latest">;
  },
): void {
  const registers = [registry];
  new Gauge({
    name: "jetmesh_queue_stalled",
    help: "1 while the queue holds jobs and none has left it for the stall window (JETMESH_CP_STALL_WINDOW_MS), else 0; the cause label says why: no-workers, paused, slots-busy, not-delivering.",
    labelNames: ["queue", "cause"],
    registers,
    collect() {
      this.reset();
      const stalled = new Map(sources.health.stalls().map((s) => [s.queue, s.cause]));
      for (const { queue } of sources.stats.latest()) {
        const cause = stalled.get(queue);
        // Every cause has a series, so a change of cause never leaves a gap in a graph.
        for (const label of CAUSES) this.set({ queue, cause: label }, cause === label ? 1 : 0);
      }
    },
  });
  new Gauge({
    name: "jetmesh_queue_stalled_seconds",
    help: "How long a stalled queue has gone without a job leaving it; 0 when it is not stalled.",
    labelNames: ["queue"],
    registers,
    collect() {
      this.reset();
      const stalled = new Map(sources.health.stalls().map((s) => [s.queue, s.stalledForMs]));
      for (const { queue } of sources.stats.latest()) this.set({ queue }, (stalled.get(queue) ?? 0) / 1000);
    },
  });
  new Gauge({
    name: "jetmesh_jobs_slow",
    help: "Running jobs that have run longer than the p99 of their job name's recent durations.",
    labelNames: ["queue"],
    registers,
    collect() {
      this.reset();
      const counts = new Map<string, number>();
      for (const job of sources.health.slowJobs()) counts.set(job.queue, (counts.get(job.queue) ?? 0) + 1);
      for (const { queue } of sources.stats.latest()) this.set({ queue }, counts.get(queue) ?? 0);
    },
  });
  new Gauge({
    name: "jetmesh_queue_desired_workers",
    help: "Workers the queue needs: (arrival rate × typical duration + pending × duration / drain target) / slots per worker, rounded up; 0 when it is idle. For autoscalers.",
    labelNames: ["queue"],
    registers,
    collect() {
      this.reset();
      for (const s of sources.health.scaling()) this.set({ queue: s.queue }, s.desiredWorkers);
    },
  });
  const trendGauge = (name: string, help: string, field: "timeToDrainMs" | "timeToFullMs") =>
    new Gauge({
      name,
      help,
      labelNames: ["queue"],
      registers,
      collect() {
        this.reset();
        // Only while it means something: an absent series, not a made-up "infinity".
        for (const q of sources.stats.latest()) {
          const ms = q.rates?.[field];
          if (ms !== null && ms !== undefined) this.set({ queue: q.queue }, ms / 1000);
        }
      },
    });
  trendGauge(
    "jetmesh_queue_time_to_drain_seconds",
    "Time to work off the backlog at the current rate of jobs leaving the queue (arrivals aside); absent while none leave.",
    "timeToDrainMs",
  );
  trendGauge(
    "jetmesh_queue_time_to_full_seconds",
    "Time until the queue reaches its limit (max jobs or max bytes) at the current growth; absent unless it grows against a limit.",
    "timeToFullMs",
  );
}
