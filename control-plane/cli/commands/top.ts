// `jetmesh top`: a live view of queues and running jobs, refreshed every few seconds until
// Ctrl-C (or --iterations). With --json it prints one status object per line instead.
import { setTimeout as sleep } from "node:timers/promises";
import type { CommandModule } from "yargs";
import { type GlobalArgs, withApi } from "../context.ts";
import { print, time } from "../output.ts";
import { runningTable, statusSummary } from "../render.ts";

interface TopArgs extends GlobalArgs {
  interval: number;
  iterations?: number;
  limit: number;
}

export const topCommand: CommandModule<GlobalArgs, TopArgs> = {
  command: "top",
  describe: "Live view of queues and running jobs, refreshed until Ctrl-C",
  builder: (y) =>
    y
      .option("interval", { alias: "i", type: "number", default: 2, describe: "seconds between refreshes" })
      .option("iterations", { alias: "n", type: "number", describe: "stop after this many refreshes" })
      .option("limit", { type: "number", default: 20, describe: "most running jobs to show" })
      .example("$0 top", "watch the fleet")
      .example("$0 top --json -n 3 -i 1", "three status lines for a script") as never,
  handler: (args) =>
    withApi(args, async (api) => {
      let stopped = false;
      const stop = () => {
        stopped = true;
      };
      process.once("SIGINT", stop);
      const interactive = process.stdout.isTTY === true && !args.json;
      try {
        for (let i = 0; !stopped && (args.iterations === undefined || i < args.iterations); i++) {
          if (i > 0) await sleep(Math.max(0.2, args.interval) * 1000);
          if (stopped) break;
          const [status, running] = await Promise.all([
            api.request("status"),
            api.request("jobs.running", { limit: args.limit }),
          ]);
          if (args.json) {
            process.stdout.write(`${JSON.stringify({ ...status, running })}\n`);
            continue;
          }
          const screen = [
            `jetmesh top — ${time(status.at)} — replica ${status.replicaId} — every ${args.interval}s, Ctrl-C to quit`,
            "",
            statusSummary(status),
            "",
            `running jobs (${running.total}):`,
            runningTable(running.jobs),
          ].join("\n");
          if (interactive) process.stdout.write("\x1b[H\x1b[2J");
          print(screen);
        }
      } finally {
        process.removeListener("SIGINT", stop);
      }
    }),
};
