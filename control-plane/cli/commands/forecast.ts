// `jetmesh forecast [queue]`: delayed jobs and schedule runs coming due in each of the next
// minutes, per queue (docs/insight.md, "Due-work forecast").
import type { CommandModule } from "yargs";
import type { DueForecast } from "../../api/protocol.ts";
import { type GlobalArgs, withApi } from "../context.ts";
import { print, printJson, table, time } from "../output.ts";

interface ForecastArgs extends GlobalArgs {
  queue?: string;
  minutes: number;
}

export const forecastCommand: CommandModule<GlobalArgs, ForecastArgs> = {
  command: "forecast [queue]",
  describe: "Delayed jobs and schedule runs coming due in each of the next minutes, per queue",
  builder: (y) =>
    y
      .positional("queue", { type: "string", describe: "one queue only" })
      .option("minutes", { type: "number", default: 60, describe: "how many minutes ahead (1 to 1440)" })
      .example("$0 forecast", "what comes due in the next hour")
      .example("$0 forecast reports --minutes 180 --json", "one queue, three hours, for scripts") as never,
  handler: (args) =>
    withApi(args, async (api) => {
      const body: { queue?: string; minutes: number } = { minutes: args.minutes };
      if (args.queue !== undefined) body.queue = args.queue;
      const forecast = await api.request("forecast.due", body);
      if (args.json) return printJson(forecast);
      print(renderForecast(forecast));
    }),
};

function renderForecast(forecast: DueForecast): string {
  const busy = forecast.minutes.filter((m) => m.delayed + m.scheduled > 0);
  const span = `the next ${forecast.minutes.length} minute(s)`;
  if (busy.length === 0) return `nothing comes due in ${span}`;
  const rows = busy.map((m) => [
    time(m.at).slice(0, 16),
    m.delayed,
    m.scheduled,
    Object.entries(m.queues)
      .map(([queue, c]) => `${queue} ${c.delayed + c.scheduled}`)
      .join(", "),
  ]);
  const note = forecast.truncated
    ? "\n(more delayed jobs than the scan limit: some are counted as unknown)"
    : "";
  return `${table(["minute", "delayed", "scheduled", "by queue"], rows)}\n\n${forecast.delayed} delayed job(s) and ${forecast.scheduled} schedule run(s) come due in ${span}${note}`;
}
