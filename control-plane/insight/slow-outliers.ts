// Slow outliers: running jobs (from heartbeats) that have run longer than the p99 of their job
// name's recent durations (from the stats window). A p99 from a handful of runs says little, so a
// job name needs a minimum of durations before its jobs can be flagged. A job counts by the time
// it was last *seen* running (its worker's last heartbeat), not by the clock now: a job that ended
// since that heartbeat is still listed, and must not turn slow merely because the list is stale.
import type { OutcomeSummary, RunningJobView, SlowJob } from "../api/protocol.ts";

export function slowOutliers(
  running: readonly RunningJobView[],
  lastSeenAt: ReadonlyMap<string, number>,
  durations: readonly { queue: string; name: string; summary: OutcomeSummary }[],
  minSamples: number,
): SlowJob[] {
  const p99 = new Map<string, { p99Ms: number; samples: number }>();
  for (const { queue, name, summary } of durations)
    if (summary.durationMs !== null && summary.durationMs.count >= minSamples)
      p99.set(`${queue}\u0000${name}`, { p99Ms: summary.durationMs.p99, samples: summary.durationMs.count });
  const slow: SlowJob[] = [];
  for (const job of running) {
    if (job.state !== "running") continue;
    const reference = p99.get(`${job.queue}\u0000${job.name}`);
    const seenAt = lastSeenAt.get(job.workerId);
    if (reference === undefined || seenAt === undefined) continue;
    const seenRunningForMs = seenAt - job.startedAt;
    if (seenRunningForMs <= reference.p99Ms) continue;
    slow.push({
      jobId: job.jobId,
      queue: job.queue,
      name: job.name,
      attempt: job.attempt,
      workerId: job.workerId,
      host: job.host,
      startedAt: job.startedAt,
      runningForMs: job.runningForMs,
      seenRunningForMs,
      ...reference,
    });
  }
  return slow.sort((a, b) => b.runningForMs / b.p99Ms - a.runningForMs / a.p99Ms);
}
