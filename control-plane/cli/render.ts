// Renders API replies for people: the same queue table in `status`, `queues` and `top`, the
// same command report for pause, resume, cancel and drain.
import type {
  CommandResult,
  DeadLetterSummary,
  FleetStatus,
  QueueView,
  RunningJobView,
  WorkerView,
} from "../api/protocol.ts";
import { ago, duration, rate, signedRate, table, time } from "./output.ts";

export function queueTable(queues: readonly QueueView[]): string {
  if (queues.length === 0) return "no queues declared yet (declare one with client.queues.declare)";
  return table(
    [
      "queue",
      "backlog",
      "pending",
      "in flight",
      "dead",
      "oldest",
      "in",
      "out",
      "growth",
      "to empty",
      "workers",
      "state",
    ],
    queues.map((q) => [
      q.queue,
      q.backlog,
      q.pending,
      `${q.inFlight}/${q.maxInFlight}`,
      q.dead,
      duration(q.oldestJobAgeMs),
      rate(q.rates?.enqueuedPerSec),
      rate(q.rates?.processedPerSec),
      signedRate(q.rates?.growthPerSec),
      duration(q.rates?.timeToEmptyMs),
      q.workers.serving,
      pauseLabel(q),
    ]),
  );
}

export function pauseLabel(q: QueueView): string {
  if (q.pause.paused) {
    const notes: string[] = [];
    if (q.pause.finishing > 0) notes.push(`${q.pause.finishing} finishing`);
    const expiresAt = q.pause.record?.expiresAt;
    if (expiresAt !== undefined) notes.push(`resumes in ${duration(Math.max(0, expiresAt - Date.now()))}`);
    return notes.length === 0 ? "paused" : `paused (${notes.join(", ")})`;
  }
  if (q.pause.pausedOnWorkers.length > 0) return `paused on ${q.pause.pausedOnWorkers.length} worker(s)`;
  return "active";
}

export function statusSummary(status: FleetStatus): string {
  const w = status.workers;
  const lines = [
    `workers: ${w.alive} alive, ${w.late} late, ${w.gone} gone${w.draining > 0 ? ` (${w.draining} draining)` : ""}`,
    `jobs:    ${status.jobs.running} running${status.jobs.awaitingRedelivery > 0 ? `, ${status.jobs.awaitingRedelivery} awaiting redelivery (their worker is gone)` : ""}`,
    `dead:    ${status.deadLetters} in the dead-letter stream`,
    "",
    queueTable(status.queues),
  ];
  return lines.join("\n");
}

export function workerTable(workers: readonly WorkerView[]): string {
  if (workers.length === 0) return "no workers are sending heartbeats";
  return table(
    ["worker", "liveness", "state", "host", "pid", "queues", "jobs", "last seen", "version"],
    workers.map((w) => [
      w.workerId,
      w.liveness,
      w.state,
      w.host,
      w.pid,
      w.queues.map((q) => `${q.queue} ${q.running}/${q.concurrency}${q.paused ? " paused" : ""}`).join(", "),
      w.runningJobs,
      ago(w.lastSeenAgoMs),
      w.version,
    ]),
  );
}

export function runningTable(jobs: readonly RunningJobView[]): string {
  if (jobs.length === 0) return "no jobs running";
  return table(
    ["job id", "queue", "name", "attempt", "worker", "running for", "progress", "state"],
    jobs.map((j) => [
      j.jobId,
      j.queue,
      j.name,
      j.attempt,
      j.workerId,
      duration(j.runningForMs),
      j.progress === undefined ? "-" : JSON.stringify(j.progress),
      j.state,
    ]),
  );
}

export function deadLetterTable(letters: readonly DeadLetterSummary[]): string {
  if (letters.length === 0) return "no dead letters match";
  return table(
    ["seq", "queue", "name", "job id", "reason", "error class", "attempts", "failed at", "message"],
    letters.map((d) => [
      d.seq,
      d.queue,
      d.name,
      d.jobId,
      d.reason,
      d.errorClass,
      d.attempts,
      time(d.failedAt),
      d.errorMessage.length > 60 ? `${d.errorMessage.slice(0, 57)}...` : d.errorMessage,
    ]),
  );
}

export function commandReport(verb: string, result: CommandResult): string {
  const lines = [
    `${verb}: acknowledged by ${result.acknowledged} worker(s)` +
      (result.expected.length > 0
        ? ` (${result.expected.length - result.missing.length} of ${result.expected.length} concerned)`
        : ""),
  ];
  if (result.acks.length > 0)
    lines.push(
      "",
      table(
        ["worker", "result"],
        result.acks.map((a) => [a.workerId, a.result]),
      ),
    );
  if (result.missing.length > 0)
    lines.push(
      "",
      `no acknowledgement from: ${result.missing.join(", ")} (they apply the recorded command when they read it)`,
    );
  for (const warning of result.warnings) lines.push(`warning: ${warning}`);
  return lines.join("\n");
}
