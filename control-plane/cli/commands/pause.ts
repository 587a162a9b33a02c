// `jetmesh pause <queue>` and `jetmesh resume <queue>`, fleet-wide or on one worker.
import type { CommandModule } from "yargs";
import { type GlobalArgs, withApi } from "../context.ts";
import { print, printJson } from "../output.ts";
import { commandReport } from "../render.ts";
import { type IssuerArgs, issuerFields, issuerOptions } from "./issuer.ts";

type PauseArgs = GlobalArgs & IssuerArgs & { queue: string; worker?: string };

function pauseLike(kind: "pause" | "resume"): CommandModule<GlobalArgs, PauseArgs> {
  const endpoint = kind === "pause" ? "queues.pause" : "queues.resume";
  return {
    command: `${kind} <queue>`,
    describe:
      kind === "pause"
        ? "Pause a queue: workers start no new job of it; running jobs finish. Workers started later stay paused"
        : "Resume a paused queue (fleet-wide resume also lifts per-worker pauses)",
    builder: (y) =>
      issuerOptions(
        y
          .positional("queue", { type: "string", demandOption: true, describe: "queue name" })
          .option("worker", { alias: "w", type: "string", describe: `${kind} on this worker only` }),
      )
        .example(
          `$0 ${kind} emails${kind === "pause" ? ' --reason "smtp outage"' : ""}`,
          `${kind} the emails queue everywhere`,
        )
        .example(`$0 ${kind} emails --worker web-1-4242-a1b2c3`, `${kind} it on one worker`) as never,
    handler: (args) =>
      withApi(args, async (api) => {
        const body: { queue: string; workerId?: string } = { queue: args.queue };
        if (args.worker !== undefined) body.workerId = args.worker;
        const result = await api.request(endpoint, { ...body, ...issuerFields(args) });
        if (args.json) return printJson(result);
        const where = args.worker === undefined ? "" : ` on ${args.worker}`;
        print(commandReport(`${kind === "pause" ? "paused" : "resumed"} ${args.queue}${where}`, result));
      }),
  };
}

export const pauseCommand = pauseLike("pause");
export const resumeCommand = pauseLike("resume");
