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
        await log.record({ ...entry, ...outcome(result) });
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
  for (const field of ["queue", "workerId", "jobId"] as const)
    if (typeof body[field] === "string") entry.target[field] = body[field];
  return entry;
}

function outcome(result: unknown): Partial<AuditEntry> {
  const r = result as Partial<CommandResult> & { matched?: number; retried?: unknown[]; purged?: number };
  if (r.command !== undefined && r.acks !== undefined) {
    const fields: Partial<AuditEntry> = {
      commandId: r.command.id,
      acknowledgedBy: r.acks.map((ack) => ack.workerId),
      missing: r.missing ?? [],
    };
    if (r.command.type === "pause" && r.command.expiresAt !== undefined)
      fields.expiresAt = r.command.expiresAt;
    return fields;
  }
  const fields: Partial<AuditEntry> = {};
  if (typeof r.matched === "number") fields.matched = r.matched;
  if (Array.isArray(r.retried)) fields.changed = r.retried.length;
  if (typeof r.purged === "number") fields.changed = r.purged;
  return fields;
}
