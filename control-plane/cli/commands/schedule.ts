// `jetmesh schedule add|list|show|pause|resume|rm|run-now`: recurring schedules, through the
// control plane's API (docs/scheduling.md). The API validates; the CLI only reads flags.
import type { CommandModule } from "yargs";
import type { ScheduleRule, ScheduleSpec, ScheduleView } from "../../../runtime/index.ts";
import { type GlobalArgs, usage, withApi } from "../context.ts";
import { details, duration, print, printJson, table, time } from "../output.ts";
import { parseDuration, parseFutureTime } from "../time-input.ts";
import { readData } from "./enqueue.ts";

interface AddArgs extends GlobalArgs {
  id: string;
  queue: string;
  name: string;
  cron?: string;
  tz?: string;
  every?: string;
  at?: string;
  data?: string;
  start?: string;
  end?: string;
  missed: "skip" | "catch-up";
  paused: boolean;
  encoding?: "json" | "msgpack";
  maxAttempts?: number;
  jobTimeout?: number;
}

function ruleOf(args: AddArgs): ScheduleRule {
  const given = [args.cron, args.every, args.at].filter((v) => v !== undefined).length;
  if (given !== 1) throw usage("give exactly one of --cron, --every or --at");
  if (args.cron !== undefined)
    return args.tz === undefined ? { cron: args.cron } : { cron: args.cron, timezone: args.tz };
  if (args.every !== undefined) return { everyMs: parseDuration(args.every) };
  return { at: parseFutureTime(args.at as string) };
}

function describeRule(rule: ScheduleRule): string {
  if ("cron" in rule) return `cron "${rule.cron}" ${rule.timezone ?? "UTC"}`;
  if ("everyMs" in rule) return `every ${duration(rule.everyMs)}`;
  return `once at ${time(rule.at)}`;
}

const add: CommandModule<GlobalArgs, AddArgs> = {
  command: "add <id> <queue> <name>",
  describe: "Create a schedule that enqueues job <name> to <queue> by a cron rule, an interval, or once",
  builder: (y) =>
    y
      .positional("id", { type: "string", demandOption: true, describe: "schedule id (A-Z a-z 0-9 _ -)" })
      .positional("queue", { type: "string", demandOption: true, describe: "queue name" })
      .positional("name", { type: "string", demandOption: true, describe: "job name" })
      .option("cron", { type: "string", describe: 'cron rule, 5 fields or 6 (seconds first): "0 3 * * *"' })
      .option("tz", { type: "string", describe: "IANA time zone of the cron rule [default: UTC]" })
      .option("every", { type: "string", describe: "fixed interval: 30s, 5m, 2h, 1d" })
      .option("at", { type: "string", describe: "once, at an ISO time or +10m (a past time runs now)" })
      .option("data", { alias: "d", type: "string", describe: "payload as JSON, or @file.json" })
      .option("start", { type: "string", describe: "no run before: ISO time or +10m" })
      .option("end", { type: "string", describe: "no run after: ISO time or +10m" })
      .option("missed", {
        choices: ["skip", "catch-up"] as const,
        default: "skip" as const,
        describe: "runs missed while no scheduler ran: skip them, or run once to catch up",
      })
      .option("paused", { type: "boolean", default: false, describe: "create it paused" })
      .option("encoding", { choices: ["json", "msgpack"] as const, describe: "payload encoding" })
      .option("max-attempts", { type: "number", describe: "attempts of each job" })
      .option("job-timeout", { type: "number", describe: "timeout of each job (ms)" })
      .example(
        `$0 schedule add nightly reports build --cron "0 3 * * *" --tz Europe/Berlin`,
        "daily at 03:00 Berlin time",
      )
      .example(`$0 schedule add ping health check --every 30s --data '{"deep":true}'`, "every 30 seconds")
      .example("$0 schedule add launch mail send --at 2030-01-01T09:00:00Z", "once") as never,
  handler: (args) =>
    withApi(args, async (api) => {
      const spec: ScheduleSpec = {
        id: args.id,
        queue: args.queue,
        name: args.name,
        rule: ruleOf(args),
        missed: args.missed,
        paused: args.paused,
      };
      const payload = readData(args.data);
      if (payload !== undefined) spec.payload = payload;
      if (args.start !== undefined) spec.startAt = parseFutureTime(args.start);
      if (args.end !== undefined) spec.endAt = parseFutureTime(args.end);
      const jobOptions: NonNullable<ScheduleSpec["jobOptions"]> = {};
      if (args.encoding !== undefined) jobOptions.encoding = args.encoding;
      if (args.maxAttempts !== undefined) jobOptions.maxAttempts = args.maxAttempts;
      if (args.jobTimeout !== undefined) jobOptions.timeoutMs = args.jobTimeout;
      if (Object.keys(jobOptions).length > 0) spec.jobOptions = jobOptions;
      const view = await api.request("schedules.create", spec);
      if (args.json) return printJson(view);
      print(
        `created schedule ${view.schedule.id}: ${describeRule(view.schedule.rule)}, next run ${time(view.state.nextFireAt)}`,
      );
    }),
};

const list: CommandModule<GlobalArgs, GlobalArgs> = {
  command: "list",
  describe: "List schedules with their last and next runs",
  handler: (args) =>
    withApi(args, async (api) => {
      const views = await api.request("schedules.list", {});
      if (args.json) return printJson(views);
      print(
        table(
          ["id", "queue", "name", "rule", "state", "last run", "next run", "last error"],
          views.map(({ schedule, state }) => [
            schedule.id,
            schedule.queue,
            schedule.name,
            describeRule(schedule.rule),
            schedule.paused ? "paused" : state.nextFireAt === null ? "done" : "active",
            time(state.lastFireAt),
            time(state.nextFireAt),
            state.lastError?.message,
          ]),
        ),
      );
    }),
};

function showView({ schedule, state }: ScheduleView): string {
  return details([
    ["id", schedule.id],
    ["queue", schedule.queue],
    ["job name", schedule.name],
    ["rule", describeRule(schedule.rule)],
    ["paused", schedule.paused ? "yes" : "no"],
    ["missed runs", schedule.missed],
    ["start", time(schedule.startAt)],
    ["end", time(schedule.endAt)],
    ["payload", schedule.payload === undefined ? undefined : JSON.stringify(schedule.payload)],
    ["job options", schedule.jobOptions === undefined ? undefined : JSON.stringify(schedule.jobOptions)],
    ["last run", time(state.lastFireAt)],
    ["last due time", time(state.lastDueAt)],
    ["last job id", state.lastJobId],
    ["next run", time(state.nextFireAt)],
    [
      "last error",
      state.lastError === undefined ? undefined : `${time(state.lastError.at)} ${state.lastError.message}`,
    ],
    ["created", time(schedule.createdAt)],
    ["updated", time(schedule.updatedAt)],
  ]);
}

type IdArgs = GlobalArgs & { id: string };

function byId(
  command: string,
  describe: string,
  run: (api: Parameters<Parameters<typeof withApi>[1]>[0], id: string) => Promise<unknown>,
  report: (result: never) => string,
): CommandModule<GlobalArgs, IdArgs> {
  return {
    command: `${command} <id>`,
    describe,
    builder: (y) =>
      y.positional("id", { type: "string", demandOption: true, describe: "schedule id" }) as never,
    handler: (args) =>
      withApi(args, async (api) => {
        const result = await run(api, args.id);
        if (args.json) return printJson(result);
        print(report(result as never));
      }),
  };
}

export const scheduleCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: "schedule <command>",
  describe: "Recurring schedules: add, list, show, pause, resume, rm, run-now",
  builder: (y) =>
    y
      .command(add)
      .command(list)
      .command(
        byId(
          "show",
          "Show a schedule: rule, bounds, last and next run, last error",
          (api, id) => api.request("schedules.get", { id }),
          showView,
        ),
      )
      .command(
        byId(
          "pause",
          "Stop a schedule's runs (runs due while paused are skipped)",
          (api, id) => api.request("schedules.pause", { id }),
          (v: ScheduleView) => `paused schedule ${v.schedule.id}`,
        ),
      )
      .command(
        byId(
          "resume",
          "Resume a paused schedule from now",
          (api, id) => api.request("schedules.resume", { id }),
          (v: ScheduleView) => `resumed schedule ${v.schedule.id}, next run ${time(v.state.nextFireAt)}`,
        ),
      )
      .command(
        byId(
          "rm",
          "Delete a schedule (jobs it enqueued stay)",
          (api, id) => api.request("schedules.delete", { id }),
          (r: { id: string }) => `deleted schedule ${r.id}`,
        ),
      )
      .command(
        byId(
          "run-now",
          "Enqueue one run of a schedule now, besides its rule",
          (api, id) => api.request("schedules.run-now", { id }),
          (r: { jobId: string; queue: string }) => `enqueued ${r.jobId} to ${r.queue}`,
        ),
      )
      .demandCommand(1, "say what to do: add, list, show, pause, resume, rm or run-now") as never,
  handler: () => {},
};
