// Where is job X now? Checked from the cheapest, most certain source to the most expensive:
// heartbeats (running), the control bucket (cancelled), the dead-letter stream (dead), the
// recent-outcomes record (completed), and last the queue streams (waiting or retrying). A job
// enqueued with `result: true` also shows its recorded state, progress and result.
import { ControlKey, decodeJobState, jobKey } from "../../runtime/index.ts";
import type { AttemptView, JobLookup, RecordedJobState, WaitingJob } from "../api/protocol.ts";
import type { CommandContext } from "../commands/context.ts";
import { matchDeadLetters } from "../dead-letters/queries.ts";
import { ApiError } from "../errors.ts";
import { commandRecord } from "../status/fleet-status.ts";
import type { OutcomeRecord, OutcomeRecorder } from "./outcome-recorder.ts";
import { walkQueue } from "./queue-walk.ts";

export async function lookupJob(
  ctx: CommandContext,
  outcomes: OutcomeRecorder,
  jobId: string,
): Promise<JobLookup> {
  const recording = readRecorded(ctx, jobId);
  let found: JobLookup;
  try {
    found = await locateJob(ctx, outcomes, jobId);
  } catch (error) {
    // The record outlives the other traces of a finished job (it is kept for the result retention).
    const record = await recording;
    if (!(error instanceof ApiError && error.code === "JOB_NOT_FOUND") || record === undefined) throw error;
    const state = RECORDED_FINAL[record.recorded.state];
    if (state === undefined) throw error;
    const { queue, name, recorded } = record;
    return strip({ jobId, state, queue, name, attempt: recorded.attempt, attempts: [], notes: [], recorded });
  }
  const record = await recording;
  if (record !== undefined) found.recorded = record.recorded;
  return found;
}

/** The lookup state a final recorded state stands for. */
const RECORDED_FINAL: Partial<Record<RecordedJobState["state"], JobLookup["state"]>> = {
  completed: "completed",
  failed: "dead",
  cancelled: "cancelled",
};

async function readRecorded(
  ctx: CommandContext,
  jobId: string,
): Promise<{ queue: string; name: string; recorded: RecordedJobState } | undefined> {
  try {
    const kv = await ctx.mesh.results();
    const entry = await kv?.get(jobKey(jobId));
    if (entry === undefined || entry === null || entry.operation !== "PUT" || entry.length === 0)
      return undefined;
    const { queue, name, state, attempt, progress, result, resultError, error, at } = decodeJobState(
      entry.string(),
      entry.key,
    );
    return { queue, name, recorded: { state, attempt, progress, result, resultError, error, at } };
  } catch {
    return undefined; // the record is an extra: a lookup never fails for want of it
  }
}

async function locateJob(ctx: CommandContext, outcomes: OutcomeRecorder, jobId: string): Promise<JobLookup> {
  const [attempts, cancelled, outcome] = await Promise.all([
    readAttempts(ctx, jobId),
    readCancelled(ctx, jobId),
    outcomes.read(jobId),
  ]);
  const base = { jobId, attempts, notes: [] as string[] };
  const running = ctx.heartbeats.findJob(jobId);
  const source = running ?? outcome;
  const where = source === undefined ? undefined : { queue: source.queue, name: source.name };

  if (cancelled !== undefined) {
    const result: JobLookup = { ...base, state: "cancelled", cancelled, ...where };
    if (running?.state === "running") {
      result.notes.push(`still reported running on ${running.workerId}: its handler is being aborted`);
    } else {
      const waiting = await findWaiting(ctx, jobId, where?.queue);
      if (waiting !== undefined) {
        Object.assign(result, { queue: waiting.queue, name: waiting.name, sequence: waiting.sequence });
        result.notes.push("still in its queue: the next worker to receive it drops it without running it");
      }
    }
    return strip(result);
  }
  if (running?.state === "running") {
    return {
      ...base,
      state: "running",
      queue: running.queue,
      name: running.name,
      attempt: running.attempt,
      workerId: running.workerId,
      host: running.host,
      startedAt: running.startedAt,
      progress: running.progress,
    };
  }
  const dead = (await matchDeadLetters(ctx, { jobId })).letters.at(-1);
  if (dead !== undefined) {
    return { ...base, state: "dead", queue: dead.queue, name: dead.name, attempt: dead.attempts, dead };
  }
  if (outcome?.type === "completed") {
    return strip({
      ...base,
      state: "completed",
      queue: outcome.queue,
      name: outcome.name,
      attempt: outcome.attempt,
      workerId: outcome.workerId,
      completedAt: outcome.at,
      durationMs: outcome.durationMs,
    });
  }
  const waiting = await findWaiting(ctx, jobId, where?.queue);
  if (waiting !== undefined) {
    const result: JobLookup = {
      ...base,
      state: "waiting",
      queue: waiting.queue,
      name: waiting.name,
      attempt: waiting.attempt,
      sequence: waiting.sequence,
      enqueuedAt: waiting.enqueuedAt ?? waiting.storedAt,
    };
    if (waiting.key !== undefined) result.key = waiting.key;
    if (running?.state === "awaiting-redelivery") {
      result.state = "awaiting-redelivery";
      result.workerId = running.workerId;
      result.notes.push(`worker ${running.workerId} stopped sending heartbeats while running it`);
    } else if (isRetrying(outcome, attempts)) {
      result.state = "retrying";
      if (outcome?.type === "retrying" && outcome.retryInMs !== undefined)
        result.retryAt = outcome.at + outcome.retryInMs;
    }
    return result;
  }
  if (outcome !== undefined) {
    base.notes.push(`last recorded outcome: ${outcome.type} at ${new Date(outcome.at).toISOString()}`);
  }
  throw new ApiError(
    "JOB_NOT_FOUND",
    `job "${jobId}" is not running, waiting, dead, cancelled or recently completed`,
    "completed jobs are remembered for a limited time (best effort), and a delayed job is found only once it is due (it waits in the delay store until then); check the job id",
  );
}

function isRetrying(outcome: OutcomeRecord | undefined, attempts: AttemptView[]): boolean {
  return outcome?.type === "retrying" || attempts.length > 0;
}

function strip(result: JobLookup): JobLookup {
  for (const key of Object.keys(result) as (keyof JobLookup)[])
    if (result[key] === undefined) delete result[key];
  return result;
}

async function findWaiting(
  ctx: CommandContext,
  jobId: string,
  queue: string | undefined,
): Promise<WaitingJob | undefined> {
  const queues = queue === undefined ? await ctx.stats.queueNames() : [queue];
  for (const name of queues) {
    const found: { job?: WaitingJob } = {};
    await walkQueue(ctx.mesh, name, ctx.scanLimit, (job) => {
      if (job.jobId === jobId) found.job = job;
      return found.job !== undefined;
    });
    if (found.job !== undefined) return found.job;
  }
  return undefined;
}

async function readAttempts(ctx: CommandContext, jobId: string): Promise<AttemptView[]> {
  const kv = await ctx.mesh.attempts();
  if (kv === undefined) return [];
  try {
    const entry = await kv.get(jobKey(jobId));
    if (entry === null || entry.operation !== "PUT" || entry.length === 0) return [];
    const value = entry.json<unknown>();
    return Array.isArray(value) ? (value as AttemptView[]) : [];
  } catch {
    return [];
  }
}

async function readCancelled(ctx: CommandContext, jobId: string) {
  let kv: Awaited<ReturnType<typeof ctx.mesh.control>>;
  try {
    kv = await ctx.mesh.control();
  } catch {
    return undefined;
  }
  const entry = await kv.get(ControlKey.cancelledJob(jobKey(jobId))).catch(() => null);
  if (entry === null || entry.operation !== "PUT") return undefined;
  let value: Record<string, unknown> = {};
  try {
    value = entry.length === 0 ? {} : entry.json<Record<string, unknown>>();
  } catch {
    // written by hand: still a cancellation
  }
  return commandRecord({ key: entry.key, value, writtenAt: entry.created.getTime() });
}
