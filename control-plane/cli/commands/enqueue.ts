// `jetmesh enqueue <queue> <name> --data '{…}'`: put one job in a queue (through the API, like
// every other command).
import { readFileSync } from "node:fs";
import type { CommandModule } from "yargs";
import { type GlobalArgs, usage, withApi } from "../context.ts";
import { print, printJson, time } from "../output.ts";
import { parseDuration, parseFutureTime } from "../time-input.ts";

interface EnqueueArgs extends GlobalArgs {
  queue: string;
  name: string;
  data?: string;
  jobId?: string;
  encoding?: "json" | "msgpack";
  maxAttempts?: number;
  jobTimeout?: number;
  delay?: string;
  runAt?: string;
  uniqueKey?: string;
  uniqueWindow?: string;
  key?: string;
}

/** --data is JSON text, or @path to read it from a file. */
export function readData(data: string | undefined): unknown {
  if (data === undefined) return undefined;
  let text = data;
  if (data.startsWith("@")) {
    try {
      text = readFileSync(data.slice(1), "utf8");
    } catch (error) {
      throw usage(`cannot read ${data.slice(1)}: ${(error as Error).message}`);
    }
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw usage(
      `--data is not valid JSON: ${(error as Error).message}`,
      `quote it for the shell: --data '{"to":"a@b.c"}'`,
    );
  }
}

export const enqueueCommand: CommandModule<GlobalArgs, EnqueueArgs> = {
  command: "enqueue <queue> <name>",
  describe: "Enqueue one job",
  builder: (y) =>
    y
      .positional("queue", { type: "string", demandOption: true, describe: "queue name" })
      .positional("name", { type: "string", demandOption: true, describe: "job name, e.g. email.send" })
      .option("data", { alias: "d", type: "string", describe: "payload as JSON, or @file.json" })
      .option("job-id", { type: "string", describe: "a stable id makes the enqueue idempotent" })
      .option("encoding", {
        choices: ["json", "msgpack"] as const,
        describe: "payload encoding on the wire [default: msgpack]",
      })
      .option("max-attempts", { type: "number", describe: "attempts before the job is dead-lettered" })
      .option("job-timeout", { type: "number", describe: "the job's timeout (ms)" })
      .option("delay", { type: "string", describe: "run no earlier than this from now: 30s, 5m, 2h" })
      .option("run-at", {
        type: "string",
        describe: "run no earlier than: ISO time or +10m (a past time runs now)",
      })
      .option("unique-key", {
        type: "string",
        describe: "while a job with this key waits or runs, return its id instead of a new job",
      })
      .option("unique-window", {
        type: "string",
        describe: "with --unique-key: keep refusing duplicates this long after the enqueue: 30s, 5m, 2h",
      })
      .option("key", {
        type: "string",
        describe: "jobs with the same key run one at a time, in order (a keyed queue)",
      })
      .example(`$0 enqueue emails email.send --data '{"to":"ann@example.com"}'`, "enqueue a job")
      .example(
        "$0 enqueue reports build --data @report.json --job-id report-2024-06",
        "idempotent, payload from a file",
      )
      .example(
        "$0 enqueue reports build --unique-key report-2024-06 --unique-window 1h",
        "at most one such job at a time, and none again within the hour",
      )
      .example(
        `$0 enqueue ledger post --key account-42 --data '{"amount":5}'`,
        "after account-42's earlier jobs",
      ) as never,
  handler: (args) =>
    withApi(args, async (api) => {
      const body: Record<string, unknown> = {
        queue: args.queue,
        name: args.name,
        payload: readData(args.data),
      };
      if (args.jobId !== undefined) body.jobId = args.jobId;
      if (args.encoding !== undefined) body.encoding = args.encoding;
      if (args.maxAttempts !== undefined) body.maxAttempts = args.maxAttempts;
      if (args.jobTimeout !== undefined) body.timeoutMs = args.jobTimeout;
      if (args.delay !== undefined) body.delayMs = parseDuration(args.delay);
      if (args.runAt !== undefined) body.runAt = parseFutureTime(args.runAt);
      if (args.uniqueWindow !== undefined && args.uniqueKey === undefined)
        throw usage("--unique-window needs --unique-key", "give the key the window belongs to");
      if (args.uniqueKey !== undefined) body.uniqueKey = args.uniqueKey;
      if (args.uniqueWindow !== undefined) body.uniqueWindowMs = parseDuration(args.uniqueWindow);
      if (args.key !== undefined) body.key = args.key;
      const result = await api.request("jobs.enqueue", body as never);
      if (args.json) return printJson(result);
      if (result.duplicate)
        return print(
          args.uniqueKey === undefined
            ? `job ${result.jobId} was already in ${result.queue} (duplicate id): nothing new stored`
            : `job ${result.jobId} holds unique key "${args.uniqueKey}" in ${result.queue}: nothing new stored`,
        );
      print(
        result.dueAt === undefined
          ? `enqueued ${result.jobId} to ${result.queue} (${result.name}), queue seq ${result.sequence}`
          : `enqueued ${result.jobId} to ${result.queue} (${result.name}), due ${time(result.dueAt)} (in the delay store)`,
      );
    }),
};
