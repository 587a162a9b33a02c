// `jetmesh workers`: every worker by its heartbeats.
import type { CommandModule } from "yargs";
import { type GlobalArgs, withApi } from "../context.ts";
import { print, printJson } from "../output.ts";
import { workerTable } from "../render.ts";

export const workersCommand: CommandModule<GlobalArgs, GlobalArgs & { all: boolean }> = {
  command: "workers",
  describe: "List workers: liveness (alive, late, gone), queues, running jobs, last heartbeat",
  builder: (y) =>
    y
      .option("all", { type: "boolean", default: false, describe: "include gone workers" })
      .example("$0 workers", "live workers")
      .example("$0 workers --all", "also the ones that stopped sending heartbeats"),
  handler: (args) =>
    withApi(args, async (api) => {
      const workers = await api.request("workers.list", { includeGone: args.all });
      if (args.json) printJson(workers);
      else print(workerTable(workers));
    }),
};
