// `jetmesh pause <queue>` and `jetmesh resume <queue>`, fleet-wide or on one worker.
import type { CommandModule } from "yargs";
import { type GlobalArgs, usage, withApi } from "../context.ts";
import { print, printJson } from "../output.ts";
import { commandReport } from "../render.ts";
import { type IssuerArgs, issuerFields, issuerOptions } from "./issuer.ts";

type PauseArgs = GlobalArgs & IssuerArgs & { queue: string; worker?: string; for?: string };

const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** "90s", "15m", "2h", "1d" in milliseconds. */
export function parsePauseLength(value: string): number {
  const match = /^(\d+)(s|m|h|d)$/.exec(value);
  if (match === null || Number(match[1]) === 0)
    throw usage(`cannot read the pause length "${value}"`, "use 90s, 15m, 2h or 1d (at most 30d)");
  return Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
}

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
          .option("worker", { alias: "w", type: "string", describe: `${kind} on this worker only` })
          .option("for", {
            type: "string",
            hidden: kind === "resume",
            describe: "resume by itself after this long: 90s, 15m, 2h, 1d",
          }),
      )
        .example(
          `$0 ${kind} emails${kind === "pause" ? ' --reason "smtp outage"' : ""}`,
          `${kind} the emails queue everywhere`,
        )
        .example(`$0 ${kind} emails --worker web-1-4242-a1b2c3`, `${kind} it on one worker`)
        .example(
          kind === "pause" ? "$0 pause emails --for 15m" : "$0 resume emails --reason 'smtp is back'",
          kind === "pause" ? "pause for 15 minutes, then resume by itself" : "say why",
        ) as never,
    handler: (args) =>
      withApi(args, async (api) => {
        const body: { queue: string; workerId?: string; forMs?: number } = { queue: args.queue };
        if (args.worker !== undefined) body.workerId = args.worker;
        if (args.for !== undefined) {
          if (kind === "resume")
            throw usage("--for applies to pause only", "run `jetmesh pause <queue> --for 15m`");
          body.forMs = parsePauseLength(args.for);
        }
        const result = await api.request(endpoint, { ...body, ...issuerFields(args) });
        if (args.json) return printJson(result);
        const where = `${args.worker === undefined ? "" : ` on ${args.worker}`}${args.for === undefined ? "" : ` for ${args.for}`}`;
        print(commandReport(`${kind === "pause" ? "paused" : "resumed"} ${args.queue}${where}`, result));
      }),
  };
}

export const pauseCommand = pauseLike("pause");
export const resumeCommand = pauseLike("resume");
