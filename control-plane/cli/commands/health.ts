// `jetmesh health [queue]`: what is wrong now — stalled queues with their likely cause and what
// to do, and running jobs past their job name's p99 (docs/insight.md).
import type { CommandModule } from "yargs";
import type { HealthReport } from "../../api/protocol.ts";
import { type GlobalArgs, withApi } from "../context.ts";
import { duration, print, printJson, table } from "../output.ts";

interface HealthArgs extends GlobalArgs {
  queue?: string;
}

export const healthCommand: CommandModule<GlobalArgs, HealthArgs> = {
  command: "health [queue]",
  describe: "Stalled queues with the likely cause, and running jobs slower than their name's p99",
  builder: (y) =>
    y
      .positional("queue", { type: "string", describe: "one queue only" })
      .example("$0 health", "is anything stalled or unusually slow?")
      .example("$0 health payments --json", "one queue, for scripts") as never,
  handler: (args) =>
    withApi(args, async (api) => {
      const report = await api.request("health", args.queue === undefined ? {} : { queue: args.queue });
      if (args.json) return printJson(report);
      print(renderHealth(report));
    }),
};

export function renderHealth(report: HealthReport): string {
  const parts: string[] = [];
  if (report.stalls.length === 0) {
    const young = report.watchedForMs < report.stallWindowMs;
    parts.push(
      `no stalled queue (no job left for ${duration(report.stallWindowMs)} while jobs wait)${young ? `; this replica has watched for ${duration(report.watchedForMs)} only` : ""}`,
    );
  } else {
    parts.push(
      table(
        ["stalled queue", "cause", "for", "backlog", "in flight"],
        report.stalls.map((s) => [s.queue, s.cause, duration(s.stalledForMs), s.backlog, s.inFlight]),
      ),
      ...report.stalls.map((s) => `${s.queue}: ${s.detail}`),
    );
  }
  parts.push("");
  if (report.slowJobs.length === 0)
    parts.push(`no running job past its name's p99 (of the last ${duration(report.outlierWindowMs)})`);
  else
    parts.push(
      table(
        ["slow job", "queue", "name", "attempt", "worker", "running", "p99"],
        report.slowJobs.map((j) => [
          j.jobId,
          j.queue,
          j.name,
          j.attempt,
          j.workerId,
          duration(j.runningForMs),
          `${duration(j.p99Ms)} (${j.samples} runs)`,
        ]),
      ),
    );
  return parts.join("\n");
}
