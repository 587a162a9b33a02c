// Due-work forecast: how many delayed jobs (and long retries) and recurring-schedule runs come due
// in each of the next minutes, per queue. Delayed jobs are counted from the delay store, filed by
// due second under `<prefix>.delayed.<minute>.<second>`: one filtered stream-info request per
// minute gives the minute's count, and only minutes that hold jobs are read (headers only) to
// split them by queue. Schedule runs are computed from the schedules' rules.
import { dueTimesBetween, Header, ScheduleStore } from "../../runtime/index.ts";
import type { DueForecast, DueMinute } from "../api/protocol.ts";
import type { CommandContext } from "../commands/context.ts";
import { headerMap } from "../dead-letters/dead-letter.ts";
import { scanStream } from "../dead-letters/stream-scan.ts";
import { isNotFound } from "../mesh.ts";
import { optionalInteger, optionalString, requireToken } from "../validate.ts";

const MINUTE_MS = 60_000;

export async function dueForecast(ctx: CommandContext, body: Record<string, unknown>): Promise<DueForecast> {
  const queue = optionalString(body, "queue") === undefined ? undefined : requireToken(body, "queue");
  const count = optionalInteger(body, "minutes", 1, 1440) ?? 60;
  const now = Date.now();
  const firstMinute = Math.floor(now / MINUTE_MS);
  const minutes: DueMinute[] = Array.from({ length: count }, (_, i) => ({
    at: (firstMinute + i) * MINUTE_MS,
    delayed: 0,
    scheduled: 0,
    queues: {},
  }));
  const truncated = await countDelayed(ctx, minutes, firstMinute, queue);
  await countScheduled(ctx, minutes, now, queue);
  return {
    at: now,
    minutes,
    delayed: minutes.reduce((sum, m) => sum + m.delayed, 0),
    scheduled: minutes.reduce((sum, m) => sum + m.scheduled, 0),
    truncated,
  };
}

function slot(minute: DueMinute, queue: string): { delayed: number; scheduled: number } {
  minute.queues[queue] ??= { delayed: 0, scheduled: 0 };
  return minute.queues[queue];
}

/** Returns true when the scan limit left some jobs unread (their minute's total is still exact). */
async function countDelayed(
  ctx: CommandContext,
  minutes: DueMinute[],
  firstMinute: number,
  only: string | undefined,
): Promise<boolean> {
  const { mesh } = ctx;
  const stream = mesh.subjects.delayedStream();
  let budget = ctx.scanLimit;
  let truncated = false;
  for (const [i, minute] of minutes.entries()) {
    const filter = mesh.subjects.delayedMinuteFilter(firstMinute + i);
    let total: number;
    try {
      const info = await mesh.jsm.streams.info(stream, { subjects_filter: filter });
      total = Object.values(info.state.subjects ?? {}).reduce((a, b) => a + b, 0);
    } catch (error) {
      if (isNotFound(error)) return false; // no queue declared since scheduling existed: no store
      throw error;
    }
    if (total === 0) continue;
    if (budget <= 0) {
      truncated = true;
      if (only === undefined) minute.delayed = total;
      continue;
    }
    let read = 0;
    const scan = await scanStream(
      mesh,
      stream,
      { filterSubject: filter, headersOnly: true, limit: budget },
      (m) => {
        read++;
        const target = headerMap(m).get(Header.Subject.toLowerCase());
        const queue = (target === undefined ? undefined : mesh.subjects.parseJob(target)?.queue) ?? "unknown";
        if (only !== undefined && queue !== only) return;
        minute.delayed++;
        slot(minute, queue).delayed++;
      },
    );
    budget -= read;
    if (scan.truncated) {
      truncated = true;
      // The minute's total is known; what could not be read is counted without a queue.
      if (only === undefined) {
        minute.delayed += total - read;
        slot(minute, "unknown").delayed += total - read;
      }
    }
  }
  return truncated;
}

async function countScheduled(
  ctx: CommandContext,
  minutes: DueMinute[],
  now: number,
  only: string | undefined,
): Promise<void> {
  const first = minutes[0]?.at ?? now;
  const until = first + minutes.length * MINUTE_MS - 1;
  const store = await ScheduleStore.open(ctx.mesh.nc, ctx.mesh.subjects);
  for (const { schedule } of await store.list()) {
    if (schedule.paused || (only !== undefined && schedule.queue !== only)) continue;
    for (const dueAt of dueTimesBetween(schedule, now, until, 100_000)) {
      const minute = minutes[Math.floor((dueAt - first) / MINUTE_MS)];
      if (minute === undefined) continue;
      minute.scheduled++;
      slot(minute, schedule.queue).scheduled++;
    }
  }
}
