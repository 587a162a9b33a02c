// The control scenarios, jetmesh only (neither baseline has a control plane): how fast a pause
// reaches a fleet, and what aggregating a large fleet's heartbeats costs the control plane. The
// control plane runs in a child process of its own (support/worker-child.ts), as in production;
// the simulated workers are connections of this process that do what a worker does on the wire.
import type { NatsConnection } from "@nats-io/transport-node";
import { ControlPlaneClient } from "../../control-plane/index.ts";
import {
  type CommandAck,
  type ControlCommand,
  connectNats,
  type Heartbeat,
  Subjects,
  VERSION,
} from "../../runtime/index.ts";
import type { HeartbeatParams, PauseParams, RunContext, Sample } from "../scenario.ts";
import { percentileOfSorted } from "../stats.ts";
import { abortable } from "../support/abort.ts";
import { WorkerChild } from "../support/children.ts";
import { withQueue } from "./jetmesh.ts";

const subjects = new Subjects();
const MB = 1024 * 1024;

/** A control plane in its own process, and an API client to it; both closed by `body`'s end. */
async function withControlPlane<T>(
  ctx: RunContext,
  body: (api: ControlPlaneClient, child: WorkerChild) => Promise<T>,
): Promise<T> {
  const child = await WorkerChild.start(
    { system: "control-plane", natsUrl: ctx.services.natsUrl },
    ctx.signal,
  );
  const nc = await connectNats({ servers: ctx.services.natsUrl });
  try {
    await child.go();
    return await body(new ControlPlaneClient(nc), child);
  } finally {
    await child.stop().catch(() => {});
    await nc.close();
  }
}

/**
 * `workers` connections subscribe to the control subjects and acknowledge a pause as a worker's
 * control listener does; each records when the command reached it. Every pause goes through the
 * control plane's API (`queues.pause`, as the CLI sends it): recorded in the control bucket, then
 * broadcast. Reported: p50 / p99 / max over all workers and pauses of the time from the API call
 * to a worker's receipt.
 */
export async function pausePropagation(ctx: RunContext, params: PauseParams): Promise<Sample> {
  return withQueue(ctx, ({ queue }) =>
    withControlPlane(ctx, async (api) => {
      const fleet: NatsConnection[] = [];
      try {
        let sentAt = 0;
        let reached = 0;
        const delays: number[] = [];
        for (let i = 0; i < params.workers; i++) {
          const nc = await connectNats({ servers: ctx.services.natsUrl });
          fleet.push(nc);
          const workerId = `sim-${i}`;
          nc.subscribe(subjects.control(">"), {
            callback: (_error, msg) => {
              const at = performance.now();
              const command = msg.json<ControlCommand>();
              if (command.type !== "pause") return;
              delays.push(at - sentAt);
              reached++;
              const ack: CommandAck = { commandId: command.id, workerId, result: "paused" };
              msg.respond(JSON.stringify(ack));
            },
          });
        }
        await Promise.all(fleet.map((nc) => nc.flush()));
        for (let round = 0; round < params.pauses; round++) {
          reached = 0;
          sentAt = performance.now();
          // The simulated workers send no heartbeats, so the control plane expects no one and
          // collects acknowledgements until this timeout; the clock is each worker's receipt.
          await abortable(api.request("queues.pause", { queue, by: "bench", timeoutMs: 200 }), ctx.signal);
          if (reached !== params.workers) {
            throw new Error(`pause ${round + 1} reached ${reached} of ${params.workers} workers`);
          }
          await abortable(api.request("queues.resume", { queue, by: "bench", timeoutMs: 50 }), ctx.signal);
        }
        const sorted = Float64Array.from(delays).sort();
        return {
          p50: percentileOfSorted(sorted, 50),
          p99: percentileOfSorted(sorted, 99),
          max: sorted[sorted.length - 1] ?? Number.NaN,
        };
      } finally {
        await Promise.all(fleet.map((nc) => nc.close().catch(() => {})));
      }
    }),
  );
}

function heartbeatOf(index: number, intervalMs: number, queue: string): Heartbeat {
  const now = Date.now();
  return {
    workerId: `sim-${index}`,
    host: `bench-host-${index % 50}`,
    pid: 10_000 + index,
    version: VERSION,
    startedAt: now,
    at: now,
    intervalMs,
    state: "running",
    queues: [{ queue, concurrency: 64, running: 2, paused: false }],
    jobs: [
      { jobId: `job-${index}-a`, queue, name: "email.send", attempt: 1, startedAt: now },
      { jobId: `job-${index}-b`, queue, name: "email.send", attempt: 1, startedAt: now },
    ],
    counters: { completed: 1000, failed: 1, retried: 1, dead: 0, cancelled: 0 },
    memory: { rssBytes: 100 * MB, heapUsedBytes: 20 * MB },
  };
}

/**
 * `workers` simulated workers, each publishing a heartbeat (two running jobs, one queue) every
 * `intervalMs`, spread evenly over the interval, from this one process, for `durationMs`. The
 * control plane's process reports its CPU over that time, its peak RSS and its heap after a GC
 * at the end; the API must then list every simulated worker.
 */
export async function heartbeatAggregation(ctx: RunContext, params: HeartbeatParams): Promise<Sample> {
  const queue = `bench_${ctx.runId}`;
  const nc = await connectNats({ servers: ctx.services.natsUrl });
  try {
    return await withControlPlane(ctx, async (api, child) => {
      const before = await child.sample({ gc: true, resetPeak: true });
      const tickMs = 50;
      const perTick = (params.workers * tickMs) / params.intervalMs;
      const started = performance.now();
      let sent = 0;
      while (performance.now() - started < params.durationMs) {
        const due = Math.floor(((performance.now() - started) / tickMs + 1) * perTick);
        for (; sent < due; sent++) {
          const index = sent % params.workers;
          nc.publish(
            subjects.heartbeat(`sim-${index}`),
            JSON.stringify(heartbeatOf(index, params.intervalMs, queue)),
          );
        }
        await abortable(new Promise((resolve) => setTimeout(resolve, tickMs)), ctx.signal);
      }
      await nc.flush();
      const seconds = (performance.now() - started) / 1000;
      const during = await child.sample({ gc: false, resetPeak: false });
      const listed = await abortable(api.request("workers.list", {}), ctx.signal);
      const simulated = listed.filter((worker) => worker.workerId.startsWith("sim-")).length;
      if (simulated !== Math.min(params.workers, sent)) {
        throw new Error(`the control plane lists ${simulated} of ${params.workers} simulated workers`);
      }
      const after = await child.sample({ gc: true, resetPeak: false });
      const cpuMicros = during.cpuMicros - before.cpuMicros;
      return {
        cpu: cpuMicros / 10_000 / seconds,
        cpuPerHeartbeat: cpuMicros / sent,
        peakRss: during.peakRss / MB,
        heap: after.heapUsed / MB,
        heapGrowth: (after.heapUsed - before.heapUsed) / MB,
      };
    });
  } finally {
    await nc.close();
  }
}
