// `jetmesh stats [queue]`: per queue and job name over the last minutes — counts, error rate,
// top error classes, duration and wait percentiles — with pending jobs and their growth.
import type { CommandModule } from "yargs";
import type { Distribution, OutcomeSummary, StatsReport } from "../../api/protocol.ts";
import { type GlobalArgs, usage, withApi } from "../context.ts";
import { duration, print, printJson, signedRate, table } from "../output.ts";

interface StatsArgs extends GlobalArgs {
  queue?: string;
  window: string;
}

const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000 } as const;

/** "30s", "5m", "1h" in milliseconds. */
export function parseWindow(value: string): number {
  const match = /^(\d+)(s|m|h)$/.exec(value);
  if (match === null)
    throw usage(
      `cannot read the window "${value}"`,
      "use seconds, minutes or hours: 30s, 5m, 1h (at most 30m)",
    );
  return Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
}

export const statsCommand: CommandModule<GlobalArgs, StatsArgs> = {
  command: "stats [queue]",
  describe: "Duration and wait percentiles, error rate and error classes per job name, pending and growth",
  builder: (y) =>
    y
      .positional("queue", { type: "string", describe: "only this queue" })
      .option("window", {
        type: "string",
        default: "5m",
        describe: "how far back: 30s to 30m",
      })
      .example("$0 stats", "every queue over the last 5 minutes")
      .example("$0 stats payments --window 15m", "one queue over the last 15 minutes")
      .example("$0 stats --json", "the same figures for scripts") as never,
  handler: (args) =>
    withApi(args, async (api) => {
      const windowMs = parseWindow(args.window);
      const report = await api.request("stats", { queue: args.queue, windowMs });
      if (args.json) printJson(report);
      else print(renderStats(report));
    }),
};

function renderStats(report: StatsReport): string {
  if (report.queues.length === 0) return "no queues declared yet (declare one with client.queues.declare)";
  const covered =
    report.coveredMs < report.windowMs
      ? ` (this control plane replica has seen only the last ${duration(report.coveredMs)})`
      : "";
  const parts = [`last ${duration(report.windowMs)}${covered}`];
  for (const queue of report.queues) {
    parts.push(
      `\nqueue ${queue.queue}: ${queue.pending ?? "-"} pending, growth ${signedRate(queue.pendingGrowthPerSec)}`,
    );
    const rows = [
      ...queue.jobs.map((job) => row(job.name, job)),
      ...(queue.jobs.length > 1 ? [row("(all)", queue.total)] : []),
    ];
    parts.push(
      rows.length === 0
        ? "no job events in the window"
        : table(
            [
              "name",
              "done",
              "failed",
              "retried",
              "dead",
              "errors",
              "run p50/p95/p99",
              "wait p50/p95/p99",
              "top error classes",
            ],
            rows,
          ),
    );
  }
  return parts.join("\n");
}

function row(name: string, s: OutcomeSummary): string[] {
  return [
    name,
    String(s.completed),
    String(s.failed),
    String(s.retried),
    String(s.dead),
    s.errorRate === null ? "-" : `${(s.errorRate * 100).toFixed(1)}%`,
    percentiles(s.durationMs),
    percentiles(s.waitMs),
    s.errorClasses
      .slice(0, 3)
      .map((e) => `${e.errorClass} ${e.count}`)
      .join(", ") || "-",
  ];
}

function percentiles(d: Distribution | null): string {
  return d === null ? "-" : `${duration(d.p50)} / ${duration(d.p95)} / ${duration(d.p99)}`;
}
