// `jetmesh`: the operator's command line. Every command talks to the control plane's API over
// NATS (docs/cli.md); exit codes: 0 done, 1 failed, 2 bad usage, 3 NATS or control plane unreachable.
import yargs from "yargs";
import { hideBin } from "yargs/helpers";
import { auditCommand } from "./commands/audit.ts";
import { cancelCommand } from "./commands/cancel.ts";
import { controlPlaneCommand } from "./commands/control-plane.ts";
import { dlqCommand } from "./commands/dlq.ts";
import { drainCommand } from "./commands/drain.ts";
import { enqueueCommand } from "./commands/enqueue.ts";
import { failuresCommand } from "./commands/failures.ts";
import { forecastCommand } from "./commands/forecast.ts";
import { healthCommand } from "./commands/health.ts";
import { jobCommand, jobsCommand } from "./commands/jobs.ts";
import { limitCommand } from "./commands/limit.ts";
import { pauseCommand, resumeCommand } from "./commands/pause.ts";
import { queueCommand, queuesCommand } from "./commands/queues.ts";
import { scheduleCommand } from "./commands/schedule.ts";
import { statsCommand } from "./commands/stats.ts";
import { statusCommand } from "./commands/status.ts";
import { topCommand } from "./commands/top.ts";
import { workersCommand } from "./commands/workers.ts";
import { ExitCode, globalOptions } from "./context.ts";
import { printError } from "./output.ts";

export async function main(argv: string[]): Promise<void> {
  const json = argv.includes("--json");
  const cli = globalOptions(yargs(argv))
    .scriptName("jetmesh")
    .usage(
      "$0 <command> [options]\n\nOperate a jetmesh fleet: status, pause / resume / cancel / drain, dead letters.",
    )
    .command(statusCommand)
    .command(queuesCommand)
    .command(queueCommand)
    .command(workersCommand)
    .command(jobsCommand)
    .command(jobCommand)
    .command(pauseCommand)
    .command(resumeCommand)
    .command(cancelCommand)
    .command(drainCommand)
    .command(dlqCommand)
    .command(failuresCommand)
    .command(enqueueCommand)
    .command(scheduleCommand)
    .command(limitCommand)
    .command(statsCommand)
    .command(healthCommand)
    .command(forecastCommand)
    .command(topCommand)
    .command(auditCommand)
    .command(controlPlaneCommand)
    .demandCommand(1, "say which command to run")
    .strict()
    .help()
    .alias("help", "h")
    .version(false)
    .wrap(Math.min(110, process.stdout.columns ?? 110))
    .example("$0 status", "workers, running jobs and queues at a glance")
    .example("$0 pause emails --reason 'smtp outage'", "stop starting jobs of a queue across the fleet")
    .example(
      "$0 dlq retry --queue payments --error-class TimeoutError",
      "re-run dead jobs of one error class",
    )
    .example("$0 top", "a live view")
    .epilogue("Connection settings also come from NATS_URL, NATS_CREDS, … as for workers. Docs: docs/cli.md")
    .fail((message, error) => {
      if (error !== undefined && error !== null) throw error;
      printError(
        {
          code: "INVALID_REQUEST",
          message: message ?? "invalid usage",
          hint: "run with --help for the options and examples",
        },
        json,
      );
      process.exit(ExitCode.usage);
    });
  await cli.parseAsync();
}

await main(hideBin(process.argv));
