// Scenario `delayed`: the delay store holding many pending delayed jobs (due an hour or more
// ahead, spread over an hour of due seconds) while a stream of jobs comes due; measures the
// memory of the control-plane process that runs the scheduler (its own process, RSS from /proc)
// and how late each due job reaches its queue (stored time in the queue − due time).
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { JetmeshClient, type JobToEnqueue } from "../../runtime/index.ts";
import type { DelayedParams, RunContext, Sample } from "../scenario.ts";
import { percentileOfSorted } from "../stats.ts";
import { abortable } from "../support/abort.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const WINDOW = 1_000;
const MB = 1024 * 1024;

/** Resident memory of a process, in bytes (Linux). */
function rssOf(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return match ? Number(match[1]) * 1024 : Number.NaN;
}

async function startControlPlane(natsUrl: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", "control-plane/main.ts"], {
    cwd: ROOT,
    env: {
      ...process.env,
      NATS_URL: natsUrl,
      JETMESH_LOG_LEVEL: "info",
      JETMESH_CP_REPLICA_ID: "bench",
      JETMESH_CP_HTTP_PORT: "0",
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  const deadline = Date.now() + 30_000;
  while (!output.includes("scheduler lease acquired")) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`the control plane did not start its scheduler:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  child.stdout?.removeAllListeners("data");
  child.stdout?.resume();
  return child;
}

async function enqueueDelayed(
  client: JetmeshClient,
  queue: string,
  count: number,
  dueOf: (index: number) => number,
  signal: AbortSignal,
): Promise<void> {
  for (let sent = 0; sent < count; sent += WINDOW) {
    signal.throwIfAborted();
    const jobs: JobToEnqueue[] = [];
    for (let i = sent; i < Math.min(sent + WINDOW, count); i++)
      jobs.push({ queue, name: "noop", payload: { i }, options: { runAt: dueOf(i) } });
    await client.enqueueMany(jobs);
  }
}

export async function delayedJobs(ctx: RunContext, params: DelayedParams): Promise<Sample> {
  const client = await JetmeshClient.connect({ connection: { servers: ctx.services.natsUrl } });
  const jsm = await jetstreamManager(client.nc);
  const queue = ctx.runId;
  const { stream } = await client.queues.declare(queue);
  const scheduler = await startControlPlane(ctx.services.natsUrl);
  const pid = scheduler.pid as number;
  let peakRss = 0;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, rssOf(pid));
  }, 250);
  try {
    const idleRss = rssOf(pid);
    const farAhead = Date.now() + 3_600_000;
    const started = performance.now();
    await enqueueDelayed(client, queue, params.pending, (i) => farAhead + (i % 3600) * 1000, ctx.signal);
    const enqueueRate = params.pending / ((performance.now() - started) / 1000);
    const heldRss = rssOf(pid);
    const firstDue = Date.now() + 2_000;
    const step = params.spreadMs / params.due;
    await enqueueDelayed(client, queue, params.due, (i) => Math.round(firstDue + i * step), ctx.signal);
    const lateness: number[] = [];
    const consumer = await jetstream(client.nc).consumers.get(stream, "workers");
    const messages = await consumer.consume({ max_messages: 1_000 });
    const collecting = (async () => {
      for await (const msg of messages) {
        const due = Number(msg.headers?.get("Jetmesh-Due-At"));
        lateness.push(msg.info.timestampNanos / 1e6 - due);
        msg.ack();
        if (lateness.length >= params.due) break;
      }
    })();
    await abortable(collecting, ctx.signal);
    lateness.sort((a, b) => a - b);
    return {
      pending: params.pending,
      enqueueRate,
      idleRss: idleRss / MB,
      heldRss: heldRss / MB,
      peakRss: Math.max(peakRss, heldRss) / MB,
      p50: percentileOfSorted(lateness, 50),
      p99: percentileOfSorted(lateness, 99),
      max: lateness.at(-1) ?? Number.NaN,
    };
  } finally {
    clearInterval(sampler);
    scheduler.kill("SIGTERM");
    await once(scheduler, "exit");
    await jsm.streams.purge(client.subjects.delayedStream()).catch(() => {});
    await jsm.streams.delete(stream).catch(() => {});
    await client.close();
  }
}
