// `jetmesh failures [queue]`: dead letters grouped by cause (error class + normalised message +
// top stack frame), most frequent first, with the group ids `jetmesh dlq retry|purge --group` take.
import type { CommandModule } from "yargs";
import type { FailureGroups } from "../../api/protocol.ts";
import { type GlobalArgs, withApi } from "../context.ts";
import { print, printJson, table, time } from "../output.ts";
import { parseTime } from "./dlq.ts";

interface FailuresArgs extends GlobalArgs {
  queue?: string;
  since?: string;
  limit: number;
}

export const failuresCommand: CommandModule<GlobalArgs, FailuresArgs> = {
  command: "failures [queue]",
  describe: "Dead letters grouped by cause (error class, normalised message, top stack frame)",
  builder: (y) =>
    y
      .positional("queue", { type: "string", describe: "one queue only" })
      .option("since", { type: "string", describe: "failed at or after: 15m, 2h, 3d (ago) or an ISO time" })
      .option("limit", { type: "number", default: 20, describe: "most groups to show (at most 1000)" })
      .example("$0 failures payments", "what kills the payments jobs")
      .example("$0 dlq retry --group 3f9c0a1b2c4d", "then re-run one group once its cause is fixed") as never,
  handler: (args) =>
    withApi(args, async (api) => {
      const body: { queue?: string; since?: number; limit: number } = { limit: args.limit };
      if (args.queue !== undefined) body.queue = args.queue;
      if (args.since !== undefined) body.since = parseTime(args.since);
      const result = await api.request("failures.groups", body);
      if (args.json) return printJson(result);
      print(renderGroups(result));
    }),
};

function renderGroups(result: FailureGroups): string {
  if (result.groups.length === 0) return "no dead letters";
  const rows = result.groups.map((g) => [
    g.id,
    g.count,
    g.errorClass,
    g.message.length > 60 ? `${g.message.slice(0, 59)}…` : g.message,
    g.topFrame.replace(/^at /, "") || "-",
    g.names.join(", "),
    time(g.firstAt),
    time(g.lastAt),
  ]);
  const head = ["group", "count", "error class", "message", "top frame", "job names", "first", "last"];
  const note = result.truncated
    ? "\n(more dead letters than the scan limit: narrow by queue or --since)"
    : "";
  return `${table(head, rows)}\n\n${result.total} dead letter(s) in ${result.groups.length} group(s); retry or purge one with \`jetmesh dlq retry|purge --group <group>\`${note}`;
}
