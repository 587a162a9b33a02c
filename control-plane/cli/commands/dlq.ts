// `jetmesh dlq list|show|retry|purge`: inspect dead jobs, re-run them (same job id, history kept)
// or drop them, by sequence or by filter (queue, name, error class, reason, job id, time range).
import type { Argv, CommandModule } from "yargs";
import type { DeadLetterFilter } from "../../api/protocol.ts";
import { type GlobalArgs, usage, withApi } from "../context.ts";
import { details, print, printJson, table, time } from "../output.ts";
import { deadLetterTable } from "../render.ts";
import { operator } from "./issuer.ts";

interface FilterArgs extends GlobalArgs {
  queue?: string;
  name?: string;
  errorClass?: string;
  reason?: string;
  job?: string;
  since?: string;
  until?: string;
}

function filterOptions<T>(y: Argv<T>): Argv<T & FilterArgs> {
  return y
    .option("queue", { alias: "q", type: "string", describe: "only this queue", group: "Filter:" })
    .option("name", {
      alias: "n",
      type: "string",
      describe: "only this job name (needs --queue)",
      group: "Filter:",
    })
    .option("error-class", {
      type: "string",
      describe: 'only this error class, e.g. "TypeError"',
      group: "Filter:",
    })
    .option("reason", {
      type: "string",
      describe: "only this dead reason (max-attempts, permanent, decode-failed, …)",
      group: "Filter:",
    })
    .option("job", { type: "string", describe: "only this job id", group: "Filter:" })
    .option("since", {
      type: "string",
      describe: "failed at or after: 15m, 2h, 3d (ago) or an ISO time",
      group: "Filter:",
    })
    .option("until", {
      type: "string",
      describe: "failed before: 15m, 2h, 3d (ago) or an ISO time",
      group: "Filter:",
    }) as unknown as Argv<T & FilterArgs>;
}

/** "15m" (ago), an ISO date, or milliseconds since the epoch. */
export function parseTime(value: string, now = Date.now()): number {
  const relative = /^(\d+)(ms|s|m|h|d)$/.exec(value);
  if (relative) {
    const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[relative[2] as "ms"];
    return now - Number(relative[1]) * unit;
  }
  if (/^\d+$/.test(value)) return Number(value);
  const parsed = Date.parse(value);
  if (Number.isNaN(parsed))
    throw usage(
      `cannot read the time "${value}"`,
      "use 15m, 2h, 3d (ago), an ISO time or ms since the epoch",
    );
  return parsed;
}

function filterOf(args: FilterArgs, seqs?: readonly number[]): DeadLetterFilter {
  const filter: DeadLetterFilter = {};
  if (args.queue !== undefined) filter.queue = args.queue;
  if (args.name !== undefined) filter.name = args.name;
  if (args.errorClass !== undefined) filter.errorClass = args.errorClass;
  if (args.reason !== undefined) filter.reason = args.reason;
  if (args.job !== undefined) filter.jobId = args.job;
  if (args.since !== undefined) filter.since = parseTime(args.since);
  if (args.until !== undefined) filter.until = parseTime(args.until);
  if (seqs !== undefined && seqs.length > 0) filter.seqs = [...seqs];
  return filter;
}

const list: CommandModule<GlobalArgs, FilterArgs & { limit: number }> = {
  command: "list",
  describe: "List dead letters, oldest first",
  builder: (y) =>
    filterOptions(y)
      .option("limit", { type: "number", default: 100, describe: "most to list (at most 1000)" })
      .example("$0 dlq list", "every dead letter")
      .example(
        "$0 dlq list --queue payments --error-class CardDeclinedError --since 2h",
        "a filtered view",
      ) as never,
  handler: (args) =>
    withApi(args, async (api) => {
      const result = await api.request("dlq.list", { ...filterOf(args), limit: args.limit });
      if (args.json) return printJson(result);
      print(deadLetterTable(result.deadLetters));
      if (result.truncated)
        print(
          `(${result.deadLetters.length} shown of ${result.total}${result.total > result.deadLetters.length ? "" : "+"}; narrow the filter or raise --limit)`,
        );
    }),
};

const show: CommandModule<GlobalArgs, GlobalArgs & { seq?: number; job?: string }> = {
  command: "show [seq]",
  describe: "Show one dead letter in full: error, stack, attempts, headers and payload",
  builder: (y) =>
    y
      .positional("seq", { type: "number", describe: "dead-letter sequence (from `dlq list`)" })
      .option("job", { type: "string", describe: "the dead letter of this job id instead" })
      .example("$0 dlq show 42", "dead letter 42")
      .example("$0 dlq show --job 0b6f7c1e-…", "the dead letter of a job") as never,
  handler: (args) =>
    withApi(args, async (api) => {
      if (args.seq === undefined && args.job === undefined) throw usage("give a sequence or --job <id>");
      const body: { seq?: number; jobId?: string } = {};
      if (args.seq !== undefined) body.seq = args.seq;
      if (args.job !== undefined) body.jobId = args.job;
      const d = await api.request("dlq.get", body);
      if (args.json) return printJson(d);
      print(
        details([
          ["seq", d.seq],
          ["job id", d.jobId],
          ["queue", d.queue],
          ["name", d.name],
          ["reason", d.reason],
          ["error", `${d.errorClass}: ${d.errorMessage}`],
          ["failed at", time(d.failedAt)],
          ["attempts", d.attempts],
          ["worker", d.workerId],
          [
            "original",
            d.originalSubject === undefined
              ? undefined
              : `${d.originalSubject} #${d.originalSequence ?? "?"}`,
          ],
          ["content type", d.contentType],
          [
            "payload",
            d.payloadBase64 === undefined ? JSON.stringify(d.payload) : `(base64) ${d.payloadBase64}`,
          ],
        ]),
      );
      if (d.history.length > 0)
        print(
          `\nattempts:\n${table(
            ["attempt", "at", "kind", "error class", "worker", "message"],
            d.history.map((a) => [a.attempt, time(a.at), a.kind, a.errorClass, a.workerId, a.message]),
          )}`,
        );
      if (d.stack !== undefined) print(`\nstack:\n${d.stack}`);
      print(
        `\nheaders:\n${table(
          ["header", "value"],
          Object.entries(d.headers).map(([k, v]) => [k, v.length > 100 ? `${v.slice(0, 97)}...` : v]),
        )}`,
      );
    }),
};

type ActArgs = FilterArgs & { seqs?: number[]; all: boolean; dryRun: boolean; group?: string; by: string };

function act(kind: "retry" | "purge"): CommandModule<GlobalArgs, ActArgs> {
  return {
    command: `${kind} [seqs..]`,
    describe:
      kind === "retry"
        ? "Re-run dead jobs: same job id and attempt history, starting again at attempt 1"
        : "Delete dead letters for good",
    builder: (y) =>
      filterOptions(y)
        .positional("seqs", { type: "number", array: true, describe: "dead-letter sequences" })
        .option("all", {
          type: "boolean",
          default: false,
          describe: `${kind} every dead letter (needed without a filter)`,
        })
        .option("dry-run", { type: "boolean", default: false, describe: "only count what would be done" })
        .option("group", {
          type: "string",
          describe: "only the dead letters of this failure group (ids from `jetmesh failures`)",
          group: "Filter:",
        })
        .option("by", {
          type: "string",
          default: operator(),
          defaultDescription: "user@host",
          describe: "who does it (kept in the audit log)",
        })
        .example(`$0 dlq ${kind} 42 43`, `${kind} two dead letters`)
        .example(`$0 dlq ${kind} --group 3f9c0a1b2c4d`, `${kind} one failure group`)
        .example(`$0 dlq ${kind} --queue payments --error-class TimeoutError`, `${kind} by error class`)
        .example(`$0 dlq ${kind} --all --dry-run`, "count every dead letter") as never,
    handler: (args) =>
      withApi(args, async (api) => {
        const body = {
          ...filterOf(args, args.seqs),
          all: args.all,
          dryRun: args.dryRun,
          by: args.by,
          ...(args.group === undefined ? {} : { group: args.group }),
        };
        if (kind === "retry") {
          const result = await api.request("dlq.retry", body);
          if (result.failed.length > 0) process.exitCode = 1;
          if (args.json) return printJson(result);
          if (result.dryRun) return print(`would retry ${result.matched} dead letter(s)`);
          print(`retried ${result.retried.length} of ${result.matched} matching dead letter(s)`);
          if (result.retried.length > 0)
            print(
              table(
                ["dlq seq", "job id", "queue", "name", "queue seq"],
                result.retried.map((r) => [r.seq, r.jobId, r.queue, r.name, r.sequence]),
              ),
            );
          if (result.failed.length > 0) {
            print(
              table(
                ["dlq seq", "job id", "error"],
                result.failed.map((f) => [f.seq, f.jobId, f.error]),
              ),
            );
          }
          return;
        }
        const result = await api.request("dlq.purge", body);
        if (args.json) return printJson(result);
        print(
          result.dryRun
            ? `would purge ${result.matched} dead letter(s)`
            : `purged ${result.purged} dead letter(s)`,
        );
      }),
  };
}

export const dlqCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: "dlq <command>",
  describe: "Dead letters: list, show, retry, purge",
  builder: (y) =>
    y
      .command(list)
      .command(show)
      .command(act("retry"))
      .command(act("purge"))
      .demandCommand(1, "say what to do: list, show, retry or purge") as never,
  handler: () => {},
};
