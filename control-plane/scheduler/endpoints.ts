// The schedules part of the API: create, change, pause, resume, remove, list and show schedules,
// run one now, and which replica runs the scheduler. Validation is the runtime's (the same
// rules as for client.schedules); its errors become API errors that say what to fix.
import {
  Header,
  InvalidScheduleError,
  type JetmeshClient,
  JetmeshError,
  ScheduleNotFoundError,
  ScheduleStore,
  type ScheduleView,
} from "../../runtime/index.ts";
import type { EnqueueReply, SchedulerStatusReply } from "../api/protocol.ts";
import type { CommandContext } from "../commands/context.ts";
import { ApiError, invalid } from "../errors.ts";
import { requireString } from "../validate.ts";
import type { Scheduler } from "./scheduler.ts";

type Body = Record<string, unknown>;

export interface ScheduleEndpoints {
  "schedules.list": (body: Body) => Promise<ScheduleView[]>;
  "schedules.get": (body: Body) => Promise<ScheduleView>;
  "schedules.create": (body: Body) => Promise<ScheduleView>;
  "schedules.update": (body: Body) => Promise<ScheduleView>;
  "schedules.pause": (body: Body) => Promise<ScheduleView>;
  "schedules.resume": (body: Body) => Promise<ScheduleView>;
  "schedules.delete": (body: Body) => Promise<{ id: string; deleted: true }>;
  "schedules.run-now": (body: Body) => Promise<EnqueueReply>;
  "scheduler.status": (body: Body) => Promise<SchedulerStatusReply>;
}

export function scheduleEndpoints(
  ctx: CommandContext,
  client: JetmeshClient,
  scheduler: Scheduler | undefined,
): ScheduleEndpoints {
  let opened: Promise<ScheduleStore> | undefined;
  const store = () => {
    opened ??= ScheduleStore.open(ctx.mesh.nc, ctx.mesh.subjects);
    return opened;
  };
  const withStore = <T>(run: (s: ScheduleStore) => Promise<T>) => store().then(run).catch(explain);
  const id = (body: Body) => requireString(body, "id", 100);
  return {
    "schedules.list": () => withStore((s) => s.list()),
    "schedules.get": (body) => withStore((s) => s.get(id(body))),
    "schedules.create": (body) => withStore((s) => s.create(body as never)),
    "schedules.update": (body) => {
      const { id: scheduleId, ...changes } = body;
      return withStore((s) => s.update(id({ id: scheduleId }), changes));
    },
    "schedules.pause": (body) => withStore((s) => s.pause(id(body))),
    "schedules.resume": (body) => withStore((s) => s.resume(id(body))),
    "schedules.delete": (body) =>
      withStore(async (s) => {
        const scheduleId = id(body);
        await s.delete(scheduleId);
        return { id: scheduleId, deleted: true as const };
      }),
    "schedules.run-now": (body) =>
      withStore(async (s) => {
        const { schedule, state } = await s.get(id(body));
        const now = Date.now();
        const options = schedule.jobOptions ?? {};
        const result = await client.enqueue(schedule.queue, schedule.name, schedule.payload, {
          ...options,
          jobId: `sched-${schedule.id}-manual-${now}`,
          headers: { ...options.headers, [Header.ScheduleId]: schedule.id },
        });
        await s.writeState(schedule.id, { ...state, lastFireAt: now, lastJobId: result.jobId });
        return { ...result };
      }),
    "scheduler.status": async () => scheduler?.status() ?? { active: false, holder: null, activeSince: null },
  };
}

function explain(error: unknown): never {
  if (error instanceof InvalidScheduleError)
    throw invalid(error.message, "see docs/scheduling.md for the rules");
  if (error instanceof ScheduleNotFoundError)
    throw new ApiError("SCHEDULE_NOT_FOUND", error.message, "list schedules with `jetmesh schedule list`");
  if (error instanceof JetmeshError && error.code === "SCHEDULE_EXISTS") throw invalid(error.message);
  if (error instanceof JetmeshError && (error.code === "QUEUE_NOT_FOUND" || error.code === "INVALID_OPTIONS"))
    throw invalid(error.message);
  throw error;
}
