// Baseline: BullMQ on a private local Redis, the framework-queue jetmesh means to beat.
// Jobs are removed on completion (the cheapest setting), processors are no-ops.
import { type Job, Queue, type QueueOptions, Worker } from "bullmq";
import type { DrainParams, EnqueueParams, LatencyParams, RunContext, Sample, System } from "../scenario.ts";
import { abortable } from "../support/abort.ts";
import { Countdown } from "../support/countdown.ts";
import { LatencyRecorder } from "../support/latency.ts";
import { pace } from "../support/pace.ts";

const JOB_NAME = "noop";
const NOOP_DATA = { job: "noop" };
const PREFILL_CHUNK = 1_000;
const RECONNECT_ATTEMPTS = 3;
const RECONNECT_DELAY_MS = 200;

type Connection = QueueOptions["connection"];

function connectionOf(ctx: RunContext): Connection {
  const redis = ctx.services.redis;
  if (redis === undefined) throw new Error("the bullmq baseline needs the benchmark's redis-server");
  return {
    host: redis.host,
    port: redis.port,
    // BullMQ requires unlimited retries per command on a Worker's blocking connection.
    maxRetriesPerRequest: null,
    // The private Redis never comes back once gone (Ctrl-C reaches it too): fail instead of
    // reconnecting forever, so the run and its clean-up end.
    retryStrategy: (attempt: number) => (attempt > RECONNECT_ATTEMPTS ? null : RECONNECT_DELAY_MS),
  };
}

/** Runs `body` against a fresh queue named after the run, obliterated afterwards. */
async function withQueue<T>(
  ctx: RunContext,
  body: (queue: Queue, connection: Connection) => Promise<T>,
): Promise<T> {
  const connection = connectionOf(ctx);
  const queue = new Queue(ctx.runId, {
    connection,
    defaultJobOptions: { removeOnComplete: true, removeOnFail: true },
  });
  // Connection errors also reject the pending commands, which fail the run; without a listener
  // BullMQ would print each reconnection attempt.
  queue.on("error", noop);
  try {
    await queue.waitUntilReady();
    return await body(queue, connection);
  } finally {
    try {
      await queue.obliterate({ force: true });
    } finally {
      await queue.close();
    }
  }
}

/** Adds `count` jobs with `addBulk`, `chunk` at a time (one Redis pipeline each). */
async function addInChunks(queue: Queue, count: number, chunk: number, signal: AbortSignal): Promise<void> {
  for (let added = 0; added < count; added += chunk) {
    signal.throwIfAborted();
    const size = Math.min(chunk, count - added);
    await queue.addBulk(Array.from({ length: size }, () => ({ name: JOB_NAME, data: NOOP_DATA })));
  }
}

/** A no-op Worker that is not yet running, and a promise that rejects on its first failure. */
function noopWorker(
  ctx: RunContext,
  connection: Connection,
  concurrency: number,
  onStart: (job: Job) => void,
  onCompleted: () => void,
): { worker: Worker; failed: Promise<never> } {
  const worker = new Worker(ctx.runId, async (job: Job) => onStart(job), {
    connection,
    concurrency,
    autorun: false,
  });
  worker.on("completed", onCompleted);
  const failed = new Promise<never>((_, reject) => {
    worker.on("failed", (_job, error) => reject(error));
    worker.on("error", reject);
  });
  // Observed through Promise.race by the caller; a failure after the run is over is irrelevant.
  failed.catch(noop);
  return { worker, failed };
}

/** Starts `worker` and returns its run loop, whose rejection fails the run. */
function runWorker(worker: Worker): Promise<never> {
  return worker.run().then(() => new Promise<never>(noop));
}

async function enqueue(ctx: RunContext, params: EnqueueParams): Promise<Sample> {
  return withQueue(ctx, async (queue) => {
    // One untimed chunk first, so connection set-up and JIT warm-up are not measured.
    await addInChunks(queue, params.window, params.window, ctx.signal);
    const start = performance.now();
    await addInChunks(queue, params.messages, params.window, ctx.signal);
    return { rate: params.messages / ((performance.now() - start) / 1000) };
  });
}

async function drain(ctx: RunContext, params: DrainParams): Promise<Sample> {
  return withQueue(ctx, async (queue, connection) => {
    await addInChunks(queue, params.messages, PREFILL_CHUNK, ctx.signal);
    const completed = new Countdown(params.messages);
    const { worker, failed } = noopWorker(ctx, connection, params.concurrency, noop, () => completed.tick());
    try {
      await worker.waitUntilReady();
      const begin = performance.now();
      const running = runWorker(worker);
      // "completed" fires once the job is recorded as done in Redis, the equivalent of an ack.
      await abortable(Promise.race([completed.done, failed, running]), ctx.signal);
      return { rate: params.messages / ((performance.now() - begin) / 1000) };
    } finally {
      await worker.close();
    }
  });
}

async function latency(ctx: RunContext, params: LatencyParams): Promise<Sample> {
  return withQueue(ctx, async (queue, connection) => {
    const durationMs = params.warmupMs + params.durationMs;
    const total = Math.round((params.rate * durationMs) / 1000);
    const completed = new Countdown(total);
    const recorder = new LatencyRecorder(total, params.warmupMs);
    const { worker, failed } = noopWorker(
      ctx,
      connection,
      params.concurrency,
      (job) => recorder.record((job.data as { sentAt: number }).sentAt),
      () => completed.tick(),
    );
    try {
      await worker.waitUntilReady();
      const running = runWorker(worker);
      recorder.begin();
      const publishing = pace(
        { rate: params.rate, durationMs, maxInFlight: params.rate, signal: ctx.signal },
        () => queue.add(JOB_NAME, { sentAt: performance.now() }),
      );
      await abortable(Promise.race([publishing, failed, running]), ctx.signal);
      await abortable(Promise.race([completed.done, failed, running]), ctx.signal);
    } finally {
      await worker.close();
    }
    return recorder.summary();
  });
}

function noop(): void {}

export const bullmq: System = { name: "bullmq", needs: ["redis"], enqueue, drain, latency };
