// The endpoint table: each API endpoint mapped to the query or command that answers it. Thin on
// purpose — parsing and rules live in commands/, status/, jobs/ and dead-letters/.
import type { JetmeshClient } from "../../runtime/index.ts";
import type { AuditLog } from "../audit/audit-log.ts";
import { cancelJob } from "../commands/cancel.ts";
import type { CommandContext } from "../commands/context.ts";
import { drainWorker } from "../commands/drain.ts";
import { enqueueJob } from "../commands/enqueue.ts";
import { listLimits, removeLimit, setLimit } from "../commands/limits.ts";
import { pauseQueue } from "../commands/pause.ts";
import { purgeDeadLetters } from "../commands/purge-dead.ts";
import { resumeQueue } from "../commands/resume.ts";
import { retryDeadLetters } from "../commands/retry-dead.ts";
import { deadLetterPatterns } from "../dead-letters/patterns.ts";
import { getDeadLetter, listDeadLetters } from "../dead-letters/queries.ts";
import { unknownQueue } from "../errors.ts";
import { dueForecast } from "../insight/due-forecast.ts";
import { failureGroups, resolveGroup } from "../insight/failure-groups.ts";
import { buildTimeline } from "../insight/job-timeline.ts";
import type { QueueHealth } from "../insight/queue-health.ts";
import { lookupJob } from "../jobs/job-lookup.ts";
import type { OutcomeRecorder } from "../jobs/outcome-recorder.ts";
import { walkQueue } from "../jobs/queue-walk.ts";
import type { JobStats } from "../metrics/job-stats.ts";
import { scheduleEndpoints } from "../scheduler/endpoints.ts";
import type { Scheduler } from "../scheduler/scheduler.ts";
import type { FleetStatusView } from "../status/fleet-status.ts";
import {
  optionalBoolean,
  optionalInteger,
  optionalString,
  requireString,
  requireToken,
} from "../validate.ts";
import type { Endpoint, ReplicaInfo, ReplyOf, WaitingJob } from "./protocol.ts";

export interface HandlerDeps {
  ctx: CommandContext;
  fleet: FleetStatusView;
  outcomes: OutcomeRecorder;
  client: JetmeshClient;
  replica: ReplicaInfo;
  /** Absent when this replica runs no scheduler. */
  scheduler?: Scheduler | undefined;
  jobStats: JobStats;
  audit: AuditLog;
  health: QueueHealth;
}

type Body = Record<string, unknown>;
export type Handlers = { [E in Endpoint]: (body: Body) => Promise<ReplyOf<E>> };

export function buildHandlers(deps: HandlerDeps): Handlers {
  const { ctx, fleet } = deps;
  return {
    ping: async () => deps.replica,
    status: () => fleet.status(),
    "queues.list": () => fleet.queues(),
    "queues.get": (body) => fleet.queue(requireToken(body, "queue")),
    "queues.pause": (body) => pauseQueue(ctx, body as never),
    "queues.resume": (body) => resumeQueue(ctx, body as never),
    "workers.list": async (body) => {
      const includeGone = optionalBoolean(body, "includeGone");
      return ctx.heartbeats.workers().filter((w) => includeGone || w.liveness !== "gone");
    },
    "workers.drain": (body) => drainWorker(ctx, body as never),
    "jobs.running": async (body) => {
      const queue = optionalString(body, "queue");
      const limit = optionalInteger(body, "limit", 1, 5000) ?? 500;
      const jobs = ctx.heartbeats.runningJobs().filter((job) => queue === undefined || job.queue === queue);
      return { total: jobs.length, jobs: jobs.slice(0, limit) };
    },
    "jobs.waiting": async (body) => {
      const queue = requireToken(body, "queue");
      const limit = optionalInteger(body, "limit", 1, 1000) ?? 50;
      const known = await ctx.stats.queueNames();
      if (!known.includes(queue)) throw unknownQueue(queue, known);
      const jobs: WaitingJob[] = [];
      const walk = await walkQueue(ctx.mesh, queue, limit, (job) => void jobs.push(job));
      return { backlog: walk.backlog, jobs, truncated: walk.truncated };
    },
    "jobs.get": async (body) => {
      const jobId = requireString(body, "jobId", 1024);
      const [job, steps] = await Promise.all([
        lookupJob(ctx, deps.outcomes, jobId),
        deps.outcomes.readSteps(jobId),
      ]);
      const timeline = buildTimeline(steps);
      return timeline === undefined ? job : { ...job, timeline };
    },
    "jobs.cancel": (body) => cancelJob(ctx, body as never),
    "jobs.enqueue": (body) => enqueueJob(ctx, deps.client, body),
    "dlq.list": (body) => listDeadLetters(ctx, body),
    "dlq.get": (body) => getDeadLetter(ctx, body),
    "dlq.patterns": (body) => deadLetterPatterns(ctx, body),
    "dlq.retry": async (body) => retryDeadLetters(ctx, await resolveGroup(ctx, body)),
    "dlq.purge": async (body) => purgeDeadLetters(ctx, await resolveGroup(ctx, body)),
    ...scheduleEndpoints(ctx, deps.client, deps.scheduler),
    stats: (body) =>
      deps.jobStats.report({
        queue: body.queue === undefined || body.queue === null ? undefined : requireToken(body, "queue"),
        windowMs: optionalInteger(body, "windowMs", 1, Number.MAX_SAFE_INTEGER),
      }),
    "audit.list": (body) => deps.audit.list(body),
    "failures.groups": (body) => failureGroups(ctx, body),
    "forecast.due": (body) => dueForecast(ctx, body),
    "limits.list": (body) => listLimits(ctx, body),
    "limits.set": (body) => setLimit(ctx, body),
    "limits.remove": (body) => removeLimit(ctx, body),
    health: async (body) => {
      const queue = optionalString(body, "queue") === undefined ? undefined : requireToken(body, "queue");
      if (queue !== undefined) {
        const known = await ctx.stats.queueNames();
        if (!known.includes(queue)) throw unknownQueue(queue, known);
      }
      return deps.health.report(queue);
    },
  };
}
