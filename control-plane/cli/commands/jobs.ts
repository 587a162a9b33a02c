// `jetmesh jobs --running|--queue <q>` and `jetmesh job <id>`: what runs, what waits, and where
// one job is now.
import type { CommandModule } from "yargs";
import type { JobLookup } from "../../api/protocol.ts";
import { type GlobalArgs, usage, withApi } from "../context.ts";
import { ago, details, duration, print, printJson, table, time } from "../output.ts";
import { runningTable } from "../render.ts";

interface JobsArgs extends GlobalArgs {
  running: boolean;
  queue?: string;
  limit: number;
}

export const jobsCommand: CommandModule<GlobalArgs, JobsArgs> = {
  command: "jobs",
  describe: "List running jobs (--running) or the jobs waiting in a queue (--queue)",
  builder: (y) =>
    y
      .option("running", {
        type: "boolean",
        default: false,
        describe: "jobs running now, by worker heartbeats",
      })
      .option("queue", { alias: "q", type: "string", describe: "the queue (alone: its waiting jobs)" })
      .option("limit", { type: "number", default: 50, describe: "most jobs to list" })
      .example("$0 jobs --running", "every job running in the fleet")
      .example("$0 jobs --running --queue emails", "running jobs of one queue")
      .example("$0 jobs --queue emails --limit 20", "the next 20 jobs waiting in emails"),
  handler: (args) =>
    withApi(args, async (api) => {
      if (args.running) {
        const body: { queue?: string; limit: number } = { limit: args.limit };
        if (args.queue !== undefined) body.queue = args.queue;
        const result = await api.request("jobs.running", body);
        if (args.json) return printJson(result);
        print(runningTable(result.jobs));
        if (result.total > result.jobs.length) print(`(${result.jobs.length} of ${result.total} shown)`);
        return;
      }
      if (args.queue === undefined)
        throw usage("say which jobs: --running, or --queue <queue> for waiting ones");
      const result = await api.request("jobs.waiting", { queue: args.queue, limit: args.limit });
      if (args.json) return printJson(result);
      if (result.jobs.length === 0) return print(`no jobs waiting in ${args.queue}`);
      print(
        table(
          ["seq", "job id", "name", "attempt", "enqueued", "waiting for"],
          result.jobs.map((j) => [
            j.sequence,
            j.jobId,
            j.name,
            j.attempt,
            time(j.enqueuedAt ?? j.storedAt),
            duration(Date.now() - (j.enqueuedAt ?? j.storedAt)),
          ]),
        ),
      );
      print(`(${result.jobs.length} shown; ${result.backlog} in the queue including jobs in flight)`);
    }),
};

export const jobCommand: CommandModule<GlobalArgs, GlobalArgs & { id: string }> = {
  command: "job <id>",
  describe: "Where a job is now: running, waiting, retrying, dead, completed or cancelled, with its attempts",
  builder: (y) =>
    y
      .positional("id", { type: "string", demandOption: true, describe: "job id" })
      .example("$0 job 0b6f7c1e-…", "the job's state and failed attempts"),
  handler: (args) =>
    withApi(args, async (api) => {
      const job = await api.request("jobs.get", { jobId: args.id });
      if (args.json) printJson(job);
      else print(renderJob(job));
    }),
};

function renderJob(job: JobLookup): string {
  const now = Date.now();
  const lines = [
    details([
      ["job id", job.jobId],
      ["state", job.state],
      ["queue", job.queue],
      ["name", job.name],
      ["attempt", job.attempt],
      ...(job.workerId === undefined
        ? []
        : [["worker", `${job.workerId}${job.host ? ` on ${job.host}` : ""}`] as const]),
      ...(job.startedAt === undefined
        ? []
        : [["running since", `${time(job.startedAt)} (${duration(now - job.startedAt)})`] as const]),
      ...(job.progress === undefined ? [] : [["progress", JSON.stringify(job.progress)] as const]),
      ...(job.sequence === undefined ? [] : [["queue seq", job.sequence] as const]),
      ...(job.key === undefined ? [] : [["key", job.key] as const]),
      ...(job.enqueuedAt === undefined
        ? []
        : [["enqueued", `${time(job.enqueuedAt)} (${ago(now - job.enqueuedAt)})`] as const]),
      ...(job.retryAt === undefined ? [] : [["next attempt", time(job.retryAt)] as const]),
      ...(job.completedAt === undefined
        ? []
        : [["completed", `${time(job.completedAt)} in ${duration(job.durationMs)}`] as const]),
      ...(job.dead === undefined
        ? []
        : ([
            ["dead since", time(job.dead.failedAt)],
            ["dead reason", job.dead.reason],
            ["error", `${job.dead.errorClass}: ${job.dead.errorMessage}`],
            ["dlq seq", job.dead.seq],
          ] as const)),
      ...(job.recorded === undefined ? [] : recordedLines(job.recorded, job.progress !== undefined)),
      ...(job.cancelled === undefined
        ? []
        : ([
            [
              "cancelled",
              `${time(job.cancelled.at)} by ${job.cancelled.by}${job.cancelled.reason ? ` (${job.cancelled.reason})` : ""}`,
            ],
          ] as const)),
    ]),
  ];
  if (job.attempts.length > 0)
    lines.push(
      "",
      "failed attempts:",
      table(
        ["attempt", "at", "kind", "error class", "worker", "message"],
        job.attempts.map((a) => [a.attempt, time(a.at), a.kind, a.errorClass, a.workerId, a.message]),
      ),
    );
  if (job.timeline !== undefined) lines.push("", ...timelineLines(job.timeline));
  for (const note of job.notes) lines.push(`note: ${note}`);
  return lines.join("\n");
}

/** A recorded result is shown up to this many characters of JSON (--json prints it whole). */
const RESULT_PREVIEW_CHARS = 200;

function recordedLines(recorded: NonNullable<JobLookup["recorded"]>, progressShown: boolean) {
  const lines: (readonly [string, string])[] = [
    ["recorded state", `${recorded.state} at ${time(recorded.at)}`],
  ];
  if (!progressShown && recorded.progress !== undefined)
    lines.push(["progress", JSON.stringify(recorded.progress)]);
  if (recorded.result !== undefined) {
    const text = JSON.stringify(recorded.result);
    lines.push([
      "result",
      text.length > RESULT_PREVIEW_CHARS ? `${text.slice(0, RESULT_PREVIEW_CHARS)}… (--json for all)` : text,
    ]);
  }
  if (recorded.resultError !== undefined) lines.push(["result not kept", recorded.resultError]);
  if (recorded.error !== undefined && recorded.state !== "waiting")
    lines.push(["final error", `${recorded.error.class}: ${recorded.error.message}`]);
  return lines;
}

function timelineLines(t: NonNullable<JobLookup["timeline"]>): string[] {
  return [
    `timeline: ${duration(t.totalMs)} ${t.endedAt === null ? "so far" : "in all"} = ${duration(t.waitingMs)} waiting + ${duration(t.runningMs)} running + ${duration(t.backoffMs)} in backoff (${t.outcome})`,
    table(
      ["attempt", "waited", "backoff", "started", "ran", "outcome"],
      t.attempts.map((a) => [
        a.attempt,
        duration(a.waitingBeforeMs),
        duration(a.backoffBeforeMs),
        time(a.startedAt),
        duration(a.runningMs),
        a.outcome,
      ]),
    ),
    ...t.notes.map((note) => `timeline note: ${note}`),
  ];
}
