// `jetmesh status`: the fleet at a glance — workers by liveness, running jobs, every queue.
import type { CommandModule } from "yargs";
import { type GlobalArgs, withApi } from "../context.ts";
import { print, printJson } from "../output.ts";
import { statusSummary } from "../render.ts";

export const statusCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: "status",
  describe: "Fleet status: workers alive/late/gone, running jobs, queues",
  builder: (y) =>
    y
      .example("$0 status", "workers, jobs and queues at a glance")
      .example("$0 status --json", "the same, for scripts"),
  handler: (args) =>
    withApi(args, async (api) => {
      const status = await api.request("status");
      if (args.json) printJson(status);
      else print(statusSummary(status));
    }),
};
