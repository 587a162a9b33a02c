// `jetmesh drain <workerId>`: finish in-flight jobs, take nothing new, exit (rolling deploys).
import type { CommandModule } from "yargs";
import { type GlobalArgs, withApi } from "../context.ts";
import { print, printJson } from "../output.ts";
import { commandReport } from "../render.ts";
import { type IssuerArgs, issuerFields, issuerOptions } from "./issuer.ts";

export const drainCommand: CommandModule<GlobalArgs, GlobalArgs & IssuerArgs & { workerId: string }> = {
  command: "drain <workerId>",
  describe: "Drain a worker: it finishes its running jobs, takes nothing new, and exits",
  builder: (y) =>
    issuerOptions(
      y.positional("workerId", {
        type: "string",
        demandOption: true,
        describe: "worker id (see `jetmesh workers`)",
      }),
    ).example("$0 drain web-1-4242-a1b2c3", "drain one worker before replacing it") as never,
  handler: (args) =>
    withApi(args, async (api) => {
      const result = await api.request("workers.drain", { workerId: args.workerId, ...issuerFields(args) });
      if (args.json) printJson(result);
      else print(commandReport(`draining ${args.workerId}`, result));
    }),
};
