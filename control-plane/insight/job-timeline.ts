// A job's timeline across its attempts, from the steps the outcome recorder keeps: time waiting
// in the queue, running, and in backoff between attempts, from first enqueue to the final
// outcome (or to now). Built from timestamps only, so the parts add up to the total exactly.
import type { JobTimeline, TimelineAttempt } from "../api/protocol.ts";
import type { TimelineStep } from "../jobs/outcome-recorder.ts";

const ENDINGS = new Set(["completed", "failed", "cancelled", "dead"]);
const FINAL = new Set(["completed", "dead", "cancelled"]);

export function buildTimeline(steps: readonly TimelineStep[], now = Date.now()): JobTimeline | undefined {
  const byAttempt = new Map<number, TimelineStep[]>();
  for (const step of steps) byAttempt.set(step.attempt, [...(byAttempt.get(step.attempt) ?? []), step]);
  const numbers = [...byAttempt.keys()].sort((a, b) => a - b);
  if (numbers.length === 0) return undefined;
  const notes: string[] = [];
  const attempts: TimelineAttempt[] = [];
  let enqueuedAt: number | null = null;
  let previousEnd: number | null = null;
  let previousRetryInMs = 0;
  let outcome: string | null = null;
  for (const attempt of numbers) {
    const own = byAttempt.get(attempt) ?? [];
    const started = own.find((s) => s.type === "started");
    const ended = own.find(
      (s) => ENDINGS.has(s.type) && (s.type !== "dead" || !own.some((o) => o.type === "failed")),
    );
    const retrying = own.find((s) => s.type === "retrying");
    const durationMs = ended?.durationMs;
    const startedAt =
      started?.at ?? (ended !== undefined && durationMs !== undefined ? ended.at - durationMs : null);
    if (startedAt === null) {
      notes.push(`attempt ${attempt}: its start was not recorded; left out`);
      continue;
    }
    const waitMs = started?.waitMs ?? ended?.waitMs;
    if (attempt === numbers[0] && waitMs !== undefined) enqueuedAt = startedAt - waitMs;
    const endedAt = ended === undefined ? null : Math.max(startedAt, ended.at);
    let waitingBeforeMs = 0;
    let backoffBeforeMs = 0;
    if (previousEnd === null) waitingBeforeMs = enqueuedAt === null ? 0 : Math.max(0, startedAt - enqueuedAt);
    else {
      const gap = Math.max(0, startedAt - previousEnd);
      backoffBeforeMs = Math.min(gap, previousRetryInMs);
      waitingBeforeMs = gap - backoffBeforeMs;
    }
    if (attempts.length > 0 && attempts.at(-1)?.attempt !== attempt - 1)
      notes.push(`attempt ${attempt - 1} was not recorded: its time counts as waiting`);
    attempts.push({
      attempt,
      startedAt,
      endedAt,
      outcome: ended?.type ?? "running",
      waitingBeforeMs,
      backoffBeforeMs,
      runningMs: (endedAt ?? Math.max(startedAt, now)) - startedAt,
    });
    previousEnd = endedAt ?? Math.max(startedAt, now);
    previousRetryInMs = retrying?.retryInMs ?? 0;
    const last = own.find((s) => FINAL.has(s.type));
    outcome =
      last?.type ?? (ended === undefined ? "running" : retrying !== undefined ? "retrying" : "waiting");
  }
  const first = attempts[0];
  if (first === undefined) return undefined;
  if (enqueuedAt === null) notes.push("the enqueue time is unknown: the timeline starts at the first start");
  const finished = outcome !== null && FINAL.has(outcome);
  const endedAt = finished ? (attempts.at(-1)?.endedAt ?? null) : null;
  // After a failed attempt and before the next start, the job waits out its backoff, then its turn.
  let trailingBackoffMs = 0;
  let trailingWaitingMs = 0;
  const lastAttempt = attempts.at(-1) as TimelineAttempt;
  if (!finished && lastAttempt.endedAt !== null) {
    const gap = Math.max(0, now - lastAttempt.endedAt);
    trailingBackoffMs = Math.min(gap, previousRetryInMs);
    trailingWaitingMs = gap - trailingBackoffMs;
  }
  const waitingMs = attempts.reduce((sum, a) => sum + a.waitingBeforeMs, 0) + trailingWaitingMs;
  const backoffMs = attempts.reduce((sum, a) => sum + a.backoffBeforeMs, 0) + trailingBackoffMs;
  const runningMs = attempts.reduce((sum, a) => sum + a.runningMs, 0);
  return {
    enqueuedAt,
    endedAt,
    outcome: outcome ?? "running",
    totalMs: waitingMs + backoffMs + runningMs,
    waitingMs,
    runningMs,
    backoffMs,
    attempts,
    notes,
  };
}
