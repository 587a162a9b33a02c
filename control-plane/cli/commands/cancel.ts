// `jetmesh cancel <jobId>`: a running job's handler is aborted and not retried; a waiting one never runs.
import type { CommandModule } from "yargs";
import { type GlobalArgs, withApi } from "../context.ts";
import { print, printJson } from "../output.ts";
import { commandReport } from "../render.ts";
import { type IssuerArgs, issuerFields, issuerOptions } from "./issuer.ts";

export const cancelCommand: CommandModule<GlobalArgs, GlobalArgs & IssuerArgs & { jobId: string }> = {
  command: "cancel <jobId>",
  describe:
    "Cancel a job: if running, its handler's signal aborts and it is not retried; if waiting, it never runs",
  builder: (y) =>
    issuerOptions(y.positional("jobId", { type: "string", demandOption: true, describe: "job id" })).example(
      '$0 cancel 0b6f7c1e-… --reason "duplicate order"',
      "cancel one job",
    ) as never,
  handler: (args) =>
    withApi(args, async (api) => {
      const result = await api.request("jobs.cancel", { jobId: args.jobId, ...issuerFields(args) });
      if (args.json) return printJson(result);
      const aborted = result.acks.filter((a) => a.result.startsWith("aborted")).map((a) => a.workerId);
      print(commandReport(`cancelled ${args.jobId}`, result));
      if (aborted.length > 0) print(`aborted the running job on: ${aborted.join(", ")}`);
    }),
};
