// `jetmesh audit`: the control actions taken on the fleet — who, what, when, and which workers
// acknowledged — from the audit stream (docs/insight.md, "Audit log").
import type { CommandModule } from "yargs";
import type { AuditEntry, AuditList } from "../../api/protocol.ts";
import { type GlobalArgs, withApi } from "../context.ts";
import { print, printJson, table, time } from "../output.ts";
import { parseTime } from "./dlq.ts";

interface AuditArgs extends GlobalArgs {
  queue?: string;
  since?: string;
  limit: number;
}

export const auditCommand: CommandModule<GlobalArgs, AuditArgs> = {
  command: "audit",
  describe:
    "Control actions (pause, resume, cancel, drain, dead-letter retry and purge): who, what, when, acks",
  builder: (y) =>
    y
      .option("queue", { alias: "q", type: "string", describe: "actions on this queue only" })
      .option("since", { type: "string", describe: "actions at or after: 15m, 2h, 3d (ago) or an ISO time" })
      .option("limit", { type: "number", default: 100, describe: "show at most this many (the newest)" })
      .example("$0 audit --queue emails --since 1d", "what was done to the emails queue today")
      .example("$0 audit --json", "every entry with its acknowledging workers, for scripts") as never,
  handler: (args) =>
    withApi(args, async (api) => {
      const body: { queue?: string; since?: number; limit: number } = { limit: args.limit };
      if (args.queue !== undefined) body.queue = args.queue;
      if (args.since !== undefined) body.since = parseTime(args.since);
      const list = await api.request("audit.list", body);
      if (args.json) return printJson(list);
      print(renderAudit(list));
    }),
};

function renderAudit(list: AuditList): string {
  if (list.entries.length === 0) return "no control actions recorded";
  const rows = list.entries.map((e) => [time(e.at), e.by, e.action, targetOf(e), resultOf(e), e.reason]);
  const more = list.truncated ? `\n(${list.total} matched; showing the newest ${list.entries.length})` : "";
  return `${table(["at", "by", "action", "target", "result", "reason"], rows)}${more}`;
}

function targetOf(entry: AuditEntry): string {
  const t = entry.target;
  if (t.filter !== undefined)
    return Object.entries(t.filter)
      .map(([key, value]) => `${key}=${Array.isArray(value) ? value.join(",") : String(value)}`)
      .join(" ");
  const parts = [
    t.scheduleId === undefined ? undefined : `schedule ${t.scheduleId}`,
    t.queue,
    t.jobId,
    t.workerId === undefined ? undefined : `worker ${t.workerId}`,
  ];
  return parts.filter((part) => part !== undefined).join(" ");
}

function resultOf(entry: AuditEntry): string {
  if (!entry.ok) return `refused: ${entry.error ?? "error"}`;
  if (entry.acknowledgedBy !== undefined) {
    const acked =
      entry.acknowledgedBy.length === 0 ? "no worker acked" : `acked by ${names(entry.acknowledgedBy)}`;
    const missing = entry.missing?.length ? `; silent: ${names(entry.missing)}` : "";
    const until = entry.expiresAt === undefined ? "" : `; until ${time(entry.expiresAt)}`;
    return `${acked}${missing}${until}`;
  }
  if (entry.changed !== undefined) return `${entry.changed} of ${entry.matched ?? entry.changed}`;
  return "done";
}

/** Worker ids, the first three of them by name. */
function names(workerIds: readonly string[]): string {
  const shown = workerIds.slice(0, 3).join(", ");
  return workerIds.length > 3 ? `${shown} +${workerIds.length - 3}` : shown;
}
