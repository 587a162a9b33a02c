// The autoscaling signal: how many workers a queue needs, from its arrival rate, its jobs'
// duration and its backlog. By Little's law, keeping up with λ jobs/s that take d seconds each
// needs λ·d busy slots; clearing the P jobs waiting within the drain target T needs P·d/T more.
// Divided by the slots of one worker, rounded up: an autoscaler sets its replicas to it.
import type { QueueScaling, WorkerView } from "../api/protocol.ts";

/** What the signal is computed from: the fields of QueueScaling (api/protocol.ts) but the result. */
export type ScalingInput = Omit<QueueScaling, "queue" | "desiredWorkers">;

export function desiredWorkers(input: ScalingInput, drainTargetMs: number): number {
  const busy = input.pending > 0 || input.inFlight > 0 || (input.arrivalPerSec ?? 0) > 0;
  if (!busy) return 0;
  // Without a duration there is nothing to size by: keep what runs, and at least one worker.
  if (input.durationMs === null) return Math.max(1, input.serving);
  const seconds = input.durationMs / 1000;
  const slots = (input.arrivalPerSec ?? 0) * seconds + (input.pending * seconds) / (drainTargetMs / 1000);
  return Math.max(1, Math.ceil(slots / Math.max(1, input.slotsPerWorker)));
}

/** Slots per worker of a queue from the heartbeats of the workers serving it; the default without any. */
export function slotsPerWorker(queue: string, workers: readonly WorkerView[], fallback: number): number {
  const serving = workers
    .filter((w) => w.liveness !== "gone")
    .flatMap((w) => w.queues.filter((q) => q.queue === queue));
  if (serving.length === 0) return fallback;
  return serving.reduce((sum, q) => sum + q.concurrency, 0) / serving.length;
}

/** The count-weighted mean of the per-name median durations of a queue (ms), null without any. */
export function typicalDurationMs(
  queue: string,
  summaries: readonly { queue: string; summary: { durationMs: { count: number; p50: number } | null } }[],
): number | null {
  let weighted = 0;
  let count = 0;
  for (const { queue: q, summary } of summaries) {
    if (q !== queue || summary.durationMs === null) continue;
    weighted += summary.durationMs.p50 * summary.durationMs.count;
    count += summary.durationMs.count;
  }
  return count === 0 ? null : weighted / count;
}
