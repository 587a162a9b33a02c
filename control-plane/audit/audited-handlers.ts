// Wraps the endpoints that change the fleet so each call leaves an audit entry: one place, so a
// new control action is audited by adding its endpoint here rather than by editing each command.
import type { Handlers } from "../api/handlers.ts";
import type { AuditEntry, CommandResult, Endpoint } from "../api/protocol.ts";
import type { AuditLog } from "./audit-log.ts";

const AUDITED = [
  "queues.pause",
  "queues.resume",
  "jobs.cancel",
  "workers.drain",
  "dlq.retry",
  "dlq.purge",
  "schedules.create",
  "schedules.update",
  "schedules.pause",
  "schedules.resume",
  "schedules.delete",
  "schedules.run-now",
  "limits.set",
  "limits.remove",
] as const satisfies readonly Endpoint[];

type Body = Record<string, unknown>;

/** Dead-letter filter fields an entry keeps to say what a retry or purge was aimed at. */
const FILTER_FIELDS = [
  "queue",
  "name",
  "errorClass",
  "reason",
  "jobId",
  "since",
  "until",
  "seqs",
  "group",
  "all",
];

export function withAudit(handlers: Handlers, log: AuditLog, replicaId: string): Handlers {
  const wrapped: Record<string, (body: Body) => Promise<unknown>> = { ...handlers };
  for (const action of AUDITED) {
    const inner = handlers[action] as (body: Body) => Promise<unknown>;
    wrapped[action] = async (body) => {
      // A dry run changes nothing, so it is no action to account for.
      if (body.dryRun === true) return inner(body);
      const entry = baseEntry(action, body, replicaId);
      try {
        const result = await inner(body);
        await log.record(withOutcome(entry, result));
        return result;
      } catch (error) {
        await log.record({ ...entry, ok: false, error: (error as Error).message });
        throw error;
      }
    };
  }
  return wrapped as Handlers;
}

function baseEntry(action: string, body: Body, replicaId: string): AuditEntry {
  const entry: AuditEntry = {
    at: Date.now(),
    action,
    by: typeof body.by === "string" && body.by !== "" ? body.by : "unknown",
    target: {},
    ok: true,
    replicaId,
  };
  if (typeof body.reason === "string") entry.reason = body.reason;
  if (action.startsWith("dlq.")) {
    const filter = Object.fromEntries(
      FILTER_FIELDS.filter((f) => body[f] !== undefined).map((f) => [f, body[f]]),
    );
    entry.target.filter = filter;
    if (typeof body.queue === "string") entry.target.queue = body.queue;
    return entry;
  }
  if (action.startsWith("schedules.") && typeof body.id === "string") entry.target.scheduleId = body.id;
  if (action.startsWith("limits.") && typeof body.name === "string") entry.target.name = body.name;
  for (const field of ["queue", "workerId", "jobId"] as const)
    if (typeof body[field] === "string") entry.target[field] = body[field];
  return entry;
}

type Outcome = Partial<CommandResult> & {
  matched?: number;
  retried?: unknown[];
  purged?: number;
  /** A schedule action's reply (ScheduleView) or a run-now's (EnqueueReply). */
  schedule?: { queue?: string };
  queue?: string;
  jobId?: string;
  /** A limits.set's reply (LimitView). */
  rate?: string;
};

function withOutcome(entry: AuditEntry, result: unknown): AuditEntry {
  const r = result as Outcome;
  const done: AuditEntry = { ...entry, target: { ...entry.target } };
  if (r.command !== undefined && r.acks !== undefined) {
    done.commandId = r.command.id;
    done.acknowledgedBy = r.acks.map((ack) => ack.workerId);
    done.missing = r.missing ?? [];
    if (r.command.type === "pause" && r.command.expiresAt !== undefined) done.expiresAt = r.command.expiresAt;
    return done;
  }
  if (typeof r.matched === "number") done.matched = r.matched;
  if (Array.isArray(r.retried)) done.changed = r.retried.length;
  if (typeof r.purged === "number") done.changed = r.purged;
  if (typeof r.rate === "string") done.rate = r.rate;
  // A schedule names its queue only in the stored schedule; run-now also the job it enqueued.
  const runNow = entry.action === "schedules.run-now";
  const queue = r.schedule?.queue ?? (runNow ? r.queue : undefined);
  if (typeof queue === "string") done.target.queue = queue;
  if (runNow && typeof r.jobId === "string") done.target.jobId = r.jobId;
  return done;
}
