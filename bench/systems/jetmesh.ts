// jetmesh under test, through its public face only (runtime/index.ts), with the same parameters
// and completion rules as the raw baseline (../baselines/raw-jetstream.ts), so the ratios are
// jetmesh's own cost: a queue declared per run (named after the run, its stream deleted
// afterwards), producers on a JetmeshClient, workers on a Worker with no-op handlers.
//
// Three systems: `jetmesh` as it ships (lifecycle events on, the default), `jetmesh-noevents`
// (events: false), so the cost of the events shows as the gap between them, and
// `jetmesh-noprefetch` (prefetch: 0 instead of "auto", drains only). The others run only the worker-side scenarios:
// enqueueing is the same code in all.
import { type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
import {
  connectNats,
  createLogger,
  defineJob,
  type EnqueueOptions,
  JetmeshClient,
  type JobToEnqueue,
  type QueueOptions,
  Worker,
} from "../../runtime/index.ts";
import type {
  DrainParams,
  EnqueueParams,
  LatencyParams,
  MemoryParams,
  PayloadDrainParams,
  PayloadEnqueueParams,
  ProcessesParams,
  RunContext,
  Sample,
  System,
} from "../scenario.ts";
import { abortable } from "../support/abort.ts";
import { Countdown } from "../support/countdown.ts";
import { drainWithProcesses, measureWorkerMemory, waitUntilEmpty } from "../support/fleet.ts";
import { LatencyRecorder } from "../support/latency.ts";
import { pace } from "../support/pace.ts";
import { payloadFor } from "../support/payload.ts";
import { delayedJobs } from "./jetmesh-delayed.ts";

export const JOB_NAME = "noop";

/** What distinguishes the jetmesh systems: the worker options they set. */
export interface Variant {
  events: boolean;
  prefetch?: number | "auto";
}
/** The baseline's 14-byte `{"job":"noop"}`, as a value the client encodes (MessagePack: 10 bytes). */
export const NOOP_PAYLOAD = { job: "noop" };
/** Pre-filling is not measured; it only needs to be quick and to bound the bytes in flight. */
const PREFILL_WINDOW = 1_000;
const PREFILL_BYTES = 16 * 1024 * 1024;
/** After a timed drain, how long every job may take to be seen gone from the stream (untimed check). */
export const SETTLED_CHECK_MS = 5_000;
/** The worker logs its start and stop at info level; the benchmark output is no place for that. */
const SILENT = createLogger({}, { JETMESH_LOG_LEVEL: "silent" });

export interface BenchQueue {
  client: JetmeshClient;
  jsm: JetStreamManager;
  queue: string;
  /** `jetmesh_q_<queue>`, as the server reports it. */
  stream: string;
}

/**
 * Runs `body` against a queue declared for this run (named `<runId><suffix>`, with `options`);
 * its stream is deleted afterwards.
 */
export async function withQueue<T>(
  ctx: RunContext,
  body: (queue: BenchQueue) => Promise<T>,
  { suffix = "", options }: { suffix?: string; options?: QueueOptions } = {},
): Promise<T> {
  const client = await JetmeshClient.connect({ connection: { servers: ctx.services.natsUrl } });
  try {
    const jsm = await jetstreamManager(client.nc);
    const queue = `${ctx.runId}${suffix}`;
    const { stream } = await client.queues.declare(queue, options);
    try {
      return await body({ client, jsm, queue, stream });
    } finally {
      await jsm.streams.delete(stream);
    }
  } finally {
    await client.close();
  }
}

/**
 * Enqueues `count` jobs with `enqueueMany`, `window` per call: each call pipelines its publishes
 * and awaits their acknowledgements, so at most `window` are unconfirmed, as in the baseline.
 */
async function enqueueInWindows(
  client: JetmeshClient,
  queue: string,
  count: number,
  window: number,
  signal: AbortSignal,
  payload: unknown = NOOP_PAYLOAD,
  options?: EnqueueOptions,
): Promise<void> {
  const job: JobToEnqueue = { queue, name: JOB_NAME, payload, options };
  for (let sent = 0; sent < count; sent += window) {
    signal.throwIfAborted();
    await client.enqueueMany(Array.from({ length: Math.min(window, count - sent) }, () => job));
  }
}

function prefillWindow(payloadBytes: number): number {
  return Math.max(16, Math.min(PREFILL_WINDOW, Math.floor(PREFILL_BYTES / payloadBytes)));
}

export type NatsConnection = Awaited<ReturnType<typeof connectNats>>;

/**
 * Starts a Worker serving `queue` with one no-op job whose handler calls `onStart` with its payload
 * and attempt number. The worker gets its own connection, as it would in its own process, opened
 * by the caller.
 */
export function startWorker(
  connection: NatsConnection,
  queue: string,
  concurrency: number,
  variant: Variant,
  onStart: (payload: unknown, attempt: number) => void,
): Promise<Worker> {
  return Worker.start({
    connection,
    queues: [queue],
    concurrency,
    events: variant.events,
    prefetch: variant.prefetch ?? "auto",
    jobs: [
      defineJob({
        name: JOB_NAME,
        run: async (payload: unknown, context) => {
          onStart(payload, context.attempt);
        },
      }),
    ],
    logger: SILENT,
  });
}

/**
 * What explains a slow run, kept in the sample (results JSON, not the table): the longest pause
 * between two handler starts, jobs delivered more than once (a lost delivery or ack comes back
 * after the queue's 30 s ack wait), and how often the worker's connection dropped.
 */
export class StallWatch {
  maxGapMs = 0;
  redelivered = 0;
  disconnects = 0;
  #last = 0;

  constructor(connection: NatsConnection) {
    void (async () => {
      for await (const status of connection.status()) if (status.type === "disconnect") this.disconnects++;
    })();
  }

  started(attempt: number): void {
    const now = performance.now();
    if (this.#last > 0) this.maxGapMs = Math.max(this.maxGapMs, now - this.#last);
    this.#last = now;
    if (attempt > 1) this.redelivered++;
  }

  figures(): Sample {
    return { maxGapMs: this.maxGapMs, redelivered: this.redelivered, disconnects: this.disconnects };
  }
}

async function enqueue(
  ctx: RunContext,
  params: EnqueueParams,
  payload: unknown = NOOP_PAYLOAD,
  options?: EnqueueOptions,
): Promise<Sample> {
  return withQueue(ctx, async ({ client, queue }) => {
    // One untimed window first, so connection set-up and JIT warm-up are not measured.
    await enqueueInWindows(client, queue, params.window, params.window, ctx.signal, payload, options);
    const start = performance.now();
    await enqueueInWindows(client, queue, params.messages, params.window, ctx.signal, payload, options);
    return { rate: params.messages / ((performance.now() - start) / 1000) };
  });
}

/**
 * Times a Worker draining a pre-filled queue: from the call to Worker.start (connection already
 * open, as the baseline's is) until the server has the last ack. Handlers count the jobs they
 * run; the last ack is sent in the same event-loop turn as the last handler returns, so after one
 * `setImmediate` a `flush()` round trip means the server has every ack.
 */
async function drain(
  ctx: RunContext,
  params: DrainParams,
  variant: Variant,
  payload: unknown = NOOP_PAYLOAD,
  options?: EnqueueOptions,
  payloadBytes = 16,
): Promise<Sample> {
  return withQueue(ctx, async ({ client, jsm, queue, stream }) => {
    const window = prefillWindow(payloadBytes);
    await enqueueInWindows(client, queue, params.messages, window, ctx.signal, payload, options);
    const nc = await connectNats({ servers: ctx.services.natsUrl });
    try {
      const handled = new Countdown(params.messages);
      const watch = new StallWatch(nc);
      const start = performance.now();
      const worker = await startWorker(nc, queue, params.concurrency, variant, (_payload, attempt) => {
        watch.started(attempt);
        handled.tick();
      });
      const startMs = performance.now() - start;
      try {
        await abortable(handled.done, ctx.signal);
        await new Promise((resolve) => setImmediate(resolve));
        await nc.flush();
        const seconds = (performance.now() - start) / 1000;
        // Not timed: every job must have been acknowledged, not only started.
        await waitUntilEmpty(jsm, stream, ctx.signal, SETTLED_CHECK_MS);
        return { rate: params.messages / seconds, startMs, ...watch.figures() };
      } finally {
        await worker.close();
      }
    } finally {
      await nc.close();
    }
  });
}

async function latency(ctx: RunContext, params: LatencyParams, events: boolean): Promise<Sample> {
  return withQueue(ctx, async ({ client, queue }) => {
    const nc = await connectNats({ servers: ctx.services.natsUrl });
    try {
      const durationMs = params.warmupMs + params.durationMs;
      const total = Math.round((params.rate * durationMs) / 1000);
      const handled = new Countdown(total);
      const recorder = new LatencyRecorder(total, params.warmupMs);
      const worker = await startWorker(nc, queue, params.concurrency, { events }, (payload) => {
        recorder.record((payload as { sentAt: number }).sentAt);
        handled.tick();
      });
      try {
        recorder.begin();
        // The send time is taken as the enqueue call's argument is built, i.e. at the call.
        const publishing = pace(
          { rate: params.rate, durationMs, maxInFlight: params.rate, signal: ctx.signal },
          () => client.enqueue(queue, JOB_NAME, { sentAt: performance.now() }),
        );
        await abortable(publishing, ctx.signal);
        await abortable(handled.done, ctx.signal);
      } finally {
        await worker.close();
      }
      return recorder.summary();
    } finally {
      await nc.close();
    }
  });
}

function enqueuePayload(ctx: RunContext, params: PayloadEnqueueParams): Promise<Sample> {
  const { value } = payloadFor(params.payload);
  return enqueue(ctx, params, value, { encoding: params.payload.encoding });
}

/** The worker decodes each payload (MessagePack or JSON, by Content-Type) before the handler runs. */
function drainPayload(ctx: RunContext, params: PayloadDrainParams, events: boolean): Promise<Sample> {
  const { value, data } = payloadFor(params.payload);
  return drain(ctx, params, { events }, value, { encoding: params.payload.encoding }, data.length);
}

function drainProcesses(ctx: RunContext, params: ProcessesParams, events: boolean): Promise<Sample> {
  return withQueue(ctx, async ({ client, jsm, queue, stream }) => {
    await enqueueInWindows(client, queue, params.messages, PREFILL_WINDOW, ctx.signal);
    const spec = {
      system: "jetmesh" as const,
      natsUrl: ctx.services.natsUrl,
      queue,
      jobName: JOB_NAME,
      concurrency: params.concurrency,
      events,
    };
    return drainWithProcesses(ctx, { jsm, stream, spec }, params);
  });
}

function memory(ctx: RunContext, params: MemoryParams, events: boolean): Promise<Sample> {
  return withQueue(ctx, async ({ client, jsm, queue, stream }) => {
    const spec = {
      system: "jetmesh" as const,
      natsUrl: ctx.services.natsUrl,
      queue,
      jobName: JOB_NAME,
      concurrency: params.concurrency,
      events,
    };
    return measureWorkerMemory(ctx, { jsm, stream, spec }, params, (count, signal) =>
      enqueueInWindows(client, queue, count, PREFILL_WINDOW, signal),
    );
  });
}

/** jetmesh as it ships: lifecycle events on. */
export const jetmesh: System = {
  name: "jetmesh",
  needs: ["nats"],
  enqueue: (ctx, params) => enqueue(ctx, params),
  drain: (ctx, params) => drain(ctx, params, { events: true }),
  latency: (ctx, params) => latency(ctx, params, true),
  enqueuePayload,
  drainPayload: (ctx, params) => drainPayload(ctx, params, true),
  drainProcesses: (ctx, params) => drainProcesses(ctx, params, true),
  memory: (ctx, params) => memory(ctx, params, true),
  delayed: delayedJobs,
};

/** The same worker with `events: false`: the gap to `jetmesh` is what lifecycle events cost. */
export const jetmeshNoEvents: System = {
  name: "jetmesh-noevents",
  needs: ["nats"],
  drain: (ctx, params) => drain(ctx, params, { events: false }),
  latency: (ctx, params) => latency(ctx, params, false),
  drainPayload: (ctx, params) => drainPayload(ctx, params, false),
  drainProcesses: (ctx, params) => drainProcesses(ctx, params, false),
  memory: (ctx, params) => memory(ctx, params, false),
};

/** As it ships but with `prefetch: 0`: what the adaptive prefetch gives, in the drain scenarios. */
export const jetmeshNoPrefetch: System = {
  name: "jetmesh-noprefetch",
  needs: ["nats"],
  drain: (ctx, params) => drain(ctx, params, { events: true, prefetch: 0 }),
};
