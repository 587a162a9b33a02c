// `jetmesh limit set|list|rm`: fleet-wide rate limits on a queue or one job name in it, through
// the control plane's API (docs/rate-limits.md). Workers pick a change up within moments.
import type { CommandModule } from "yargs";
import { JetmeshError, parseRate } from "../../../runtime/index.ts";
import type { LimitView } from "../../api/protocol.ts";
import { fail, type GlobalArgs, usage, withApi } from "../context.ts";
import { print, printJson, table, time } from "../output.ts";
import { operator } from "./issuer.ts";

type TargetArgs = GlobalArgs & { queue: string; name?: string; by: string; reason?: string };

function target(args: TargetArgs): { queue: string; name?: string; by: string; reason?: string } {
  const body: { queue: string; name?: string; by: string; reason?: string } = {
    queue: args.queue,
    by: args.by,
  };
  if (args.name !== undefined) body.name = args.name;
  if (args.reason !== undefined) body.reason = args.reason;
  return body;
}

function where(args: { queue: string; name?: string | undefined }): string {
  return args.name === undefined ? args.queue : `${args.queue} (job name ${args.name})`;
}

const targetOptions = {
  name: { alias: "n", type: "string", describe: "limit only the jobs of this name in the queue" },
  by: { type: "string", default: operator(), defaultDescription: "user@host", describe: "who sets it" },
  reason: { type: "string", describe: "why (kept with the limit and in the audit log)" },
} as const;

const set: CommandModule<GlobalArgs, TargetArgs & { rate: string }> = {
  command: "set <queue>",
  describe: "Limit how many jobs of a queue (or of one job name) start per interval, fleet-wide",
  builder: (y) =>
    y
      .positional("queue", { type: "string", demandOption: true, describe: "queue name" })
      .options(targetOptions)
      .option("rate", {
        type: "string",
        demandOption: true,
        describe: "starts per interval: 10/s, 600/min, 5/250ms, 100/2s",
      })
      .example("$0 limit set emails --rate 10/s", "at most 10 email jobs start per second")
      .example("$0 limit set emails --name email.bulk --rate 600/min", "limit one job name only") as never,
  handler: (args) => {
    // A rate that cannot be read is a usage error, told before any connection is tried.
    try {
      parseRate(args.rate);
    } catch (error) {
      return fail(error instanceof JetmeshError ? usage(error.message) : error, args.json);
    }
    return withApi(args, async (api) => {
      const view = await api.request("limits.set", { ...target(args), rate: args.rate });
      if (args.json) return printJson(view);
      print(`limited ${where(args)} to ${view.rate} (${view.limit} starts per ${view.intervalMs} ms)`);
    });
  },
};

const rm: CommandModule<GlobalArgs, TargetArgs> = {
  command: "rm <queue>",
  describe: "Remove the rate limit of a queue (or of one job name in it)",
  builder: (y) =>
    y
      .positional("queue", { type: "string", demandOption: true, describe: "queue name" })
      .options(targetOptions)
      .example("$0 limit rm emails", "lift the queue's limit")
      .example("$0 limit rm emails --name email.bulk", "lift one job name's limit") as never,
  handler: (args) =>
    withApi(args, async (api) => {
      const result = await api.request("limits.remove", target(args));
      if (args.json) return printJson(result);
      print(`removed the rate limit of ${where(args)}`);
    }),
};

const list: CommandModule<GlobalArgs, GlobalArgs & { queue?: string }> = {
  command: "list [queue]",
  describe: "The rate limits in force, with the starts granted in the current window",
  builder: (y) => y.positional("queue", { type: "string", describe: "only this queue's limits" }) as never,
  handler: (args) =>
    withApi(args, async (api) => {
      const views = await api.request("limits.list", args.queue === undefined ? {} : { queue: args.queue });
      if (args.json) return printJson(views);
      if (views.length === 0) return print("no rate limits are set");
      print(limitTable(views));
    }),
};

export function limitTable(views: readonly LimitView[]): string {
  return table(
    ["queue", "job name", "rate", "used now", "set by", "set at", "reason"],
    views.map((v) => [
      v.queue,
      v.name ?? "(all)",
      v.rate,
      `${v.window.used}/${v.limit}`,
      v.by,
      time(v.at),
      v.reason,
    ]),
  );
}

/** One limit in a line: `10/s (7 used now)` or `email.bulk 5/250ms (0 used now)`. */
export function limitLabel(view: LimitView): string {
  return `${view.name === undefined ? "" : `${view.name} `}${view.rate} (${view.window.used} used now)`;
}

export const limitCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: "limit <command>",
  describe: "Fleet-wide rate limits: set, list, rm",
  builder: (y) =>
    y.command(set).command(list).command(rm).demandCommand(1, "say what to do: set, list or rm") as never,
  handler: () => {},
};
