// `jetmesh queues` and `jetmesh queue <name>`: sizes, rates and state of queues.
import type { CommandModule } from "yargs";
import { type GlobalArgs, withApi } from "../context.ts";
import { ago, details, duration, print, printJson, rate, signedRate, time } from "../output.ts";
import { pauseLabel, queueTable, runningTable } from "../render.ts";
import { limitLabel } from "./limit.ts";

export const queuesCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: "queues",
  describe: "List queues with backlog, in-flight, dead, age of the oldest job and rates",
  builder: (y) => y.example("$0 queues", "one line per queue"),
  handler: (args) =>
    withApi(args, async (api) => {
      const queues = await api.request("queues.list");
      if (args.json) printJson(queues);
      else print(queueTable(queues));
    }),
};

export const queueCommand: CommandModule<GlobalArgs, GlobalArgs & { name: string }> = {
  command: "queue <name>",
  describe: "One queue in detail: sizes, rates, pause state, workers and running jobs",
  builder: (y) =>
    y
      .positional("name", { type: "string", demandOption: true, describe: "queue name" })
      .example("$0 queue emails", "everything about the emails queue"),
  handler: (args) =>
    withApi(args, async (api) => {
      const [q, limits] = await Promise.all([
        api.request("queues.get", { queue: args.name }),
        api.request("limits.list", { queue: args.name }),
      ]);
      if (args.json) return printJson({ ...q, limits });
      const pause = q.pause.record;
      print(
        details([
          ["queue", q.queue],
          ["stream", q.stream],
          ["state", pauseLabel(q)],
          [
            "paused by",
            pause === undefined
              ? undefined
              : `${pause.by} ${ago(Date.now() - pause.at)}${pause.reason ? ` (${pause.reason})` : ""}`,
          ],
          [
            "backlog",
            `${q.backlog} (${q.pending} pending, ${q.inFlight} in flight of at most ${q.maxInFlight})`,
          ],
          [
            "keyed",
            q.keyed === undefined
              ? undefined
              : `${q.keyed.jobs} of them (${q.keyed.pending} pending, ${q.keyed.inFlight} in flight; ${q.keyed.ownedPartitions} partition(s) taken${q.keyed.unowned > 0 ? `, ${q.keyed.unowned} job(s) in partitions no worker has taken` : ""})`,
          ],
          ["rate limits", limits.length === 0 ? "none" : limits.map(limitLabel).join("; ")],
          ["redelivered", q.redelivered],
          ["dead", q.dead],
          [
            "oldest job",
            q.oldestJobAt === null ? "-" : `${time(q.oldestJobAt)} (${duration(q.oldestJobAgeMs)} old)`,
          ],
          ["enqueued", rate(q.rates?.enqueuedPerSec)],
          ["processed", rate(q.rates?.processedPerSec)],
          ["growth", signedRate(q.rates?.growthPerSec)],
          ["time to empty", duration(q.rates?.timeToEmptyMs)],
          ["time to drain", duration(q.rates?.timeToDrainMs)],
          ["time to full", duration(q.rates?.timeToFullMs)],
          ["rate window", duration(q.rates?.windowMs)],
          [
            "workers",
            `${q.workers.serving} serving (${q.workers.paused} paused), ${q.workers.running}/${q.workers.concurrency} slots busy`,
          ],
          ...q.pause.pausedOnWorkers.map((p) => [`paused on`, `${p.workerId} by ${p.record.by}`] as const),
        ]),
      );
      print(`\n${runningTable(q.runningJobs)}`);
    }),
};
