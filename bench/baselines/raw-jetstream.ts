// Baseline: what @nats-io/jetstream alone reaches on this machine, the ceiling that jetmesh's
// ratios are taken against. Streams are set up as jetmesh queues are (WorkQueue, discard new,
// file storage, one durable pull consumer with explicit acks), so the gap is jetmesh's own cost.
import {
  AckPolicy,
  DiscardPolicy,
  type JetStreamClient,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
} from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
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
import { drainWithProcesses, measureWorkerMemory } from "../support/fleet.ts";
import { LatencyRecorder } from "../support/latency.ts";
import { pace } from "../support/pace.ts";
import { payloadFor } from "../support/payload.ts";
import { connectRaw } from "../support/raw-connect.ts";
import { consumeConcurrently } from "../support/raw-consume.ts";
import { readStamp, stampNow } from "../support/stamp.ts";

const NOOP_PAYLOAD = new TextEncoder().encode('{"job":"noop"}');
const DURABLE = "bench";
/** Pre-filling is not measured; it only needs to be quick. */
const PREFILL_WINDOW = 1_000;
const PREFILL_BYTES = 16 * 1024 * 1024;

interface BenchQueue {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  stream: string;
  subject: string;
}

/** Runs `body` against a fresh stream and consumer named after the run, deleted afterwards. */
async function withQueue<T>(ctx: RunContext, body: (queue: BenchQueue) => Promise<T>): Promise<T> {
  const nc = await connectRaw(ctx.services.natsUrl);
  try {
    const jsm = await jetstreamManager(nc);
    const stream = `BENCH_${ctx.runId}`;
    await jsm.streams.add({
      name: stream,
      subjects: [`bench.${ctx.runId}.>`],
      retention: RetentionPolicy.Workqueue,
      discard: DiscardPolicy.New,
    });
    try {
      await jsm.consumers.add(stream, { durable_name: DURABLE, ack_policy: AckPolicy.Explicit });
      return await body({ nc, js: jetstream(nc), jsm, stream, subject: `bench.${ctx.runId}.noop` });
    } finally {
      await jsm.streams.delete(stream);
    }
  } finally {
    await nc.close();
  }
}

/**
 * Publishes `count` messages (`data`, the no-op job by default) in batches of `window`, each
 * batch's PubAcks awaited before the next, so at most `window` are unconfirmed. Sliding windows (publish one more as each PubAck arrives,
 * or after a `Promise.race` over the pending set) measured slower with this client, so the
 * baseline uses the fastest bounded scheme.
 */
async function publishInBatches(
  js: JetStreamClient,
  subject: string,
  count: number,
  window: number,
  signal: AbortSignal,
  data: Uint8Array = NOOP_PAYLOAD,
): Promise<void> {
  for (let sent = 0; sent < count; sent += window) {
    signal.throwIfAborted();
    const batch = Math.min(window, count - sent);
    await Promise.all(Array.from({ length: batch }, () => js.publish(subject, data)));
  }
}

async function enqueue(
  ctx: RunContext,
  params: EnqueueParams,
  data: Uint8Array = NOOP_PAYLOAD,
): Promise<Sample> {
  return withQueue(ctx, async ({ js, subject }) => {
    // One untimed batch first, so connection set-up and JIT warm-up are not measured.
    await publishInBatches(js, subject, params.window, params.window, ctx.signal, data);
    const start = performance.now();
    await publishInBatches(js, subject, params.messages, params.window, ctx.signal, data);
    return { rate: params.messages / ((performance.now() - start) / 1000) };
  });
}

/** Pre-filling is not timed; big payloads go in smaller batches to bound what is in flight. */
function prefillWindow(data: Uint8Array): number {
  return Math.max(16, Math.min(PREFILL_WINDOW, Math.floor(PREFILL_BYTES / data.length)));
}

async function drain(ctx: RunContext, params: DrainParams, data: Uint8Array = NOOP_PAYLOAD): Promise<Sample> {
  return withQueue(ctx, async ({ nc, js, stream, subject }) => {
    await publishInBatches(js, subject, params.messages, prefillWindow(data), ctx.signal, data);
    const consumer = await js.consumers.get(stream, DURABLE);
    const acked = new Countdown(params.messages);
    const start = performance.now();
    const consuming = await consumeConcurrently(consumer, params.concurrency, noop, () => acked.tick());
    try {
      await abortable(Promise.race([acked.done, consuming.ended]), ctx.signal);
      // ack() only buffers the ack: the run ends when the server has received them all.
      await nc.flush();
      return { rate: params.messages / ((performance.now() - start) / 1000) };
    } finally {
      await consuming.stop();
    }
  });
}

async function latency(ctx: RunContext, params: LatencyParams): Promise<Sample> {
  return withQueue(ctx, async ({ js, stream, subject }) => {
    // The worker has its own connection, as it would in its own process.
    const workerConnection = await connectRaw(ctx.services.natsUrl);
    try {
      const consumer = await jetstream(workerConnection).consumers.get(stream, DURABLE);
      const durationMs = params.warmupMs + params.durationMs;
      const total = Math.round((params.rate * durationMs) / 1000);
      const acked = new Countdown(total);
      const recorder = new LatencyRecorder(total, params.warmupMs);
      const consuming = await consumeConcurrently(
        consumer,
        params.concurrency,
        (msg) => recorder.record(readStamp(msg.data)),
        () => acked.tick(),
      );
      try {
        recorder.begin();
        const publishing = pace(
          { rate: params.rate, durationMs, maxInFlight: params.rate, signal: ctx.signal },
          () => js.publish(subject, stampNow()),
        );
        await abortable(Promise.race([publishing, consuming.ended]), ctx.signal);
        await abortable(Promise.race([acked.done, consuming.ended]), ctx.signal);
      } finally {
        await consuming.stop();
      }
      return recorder.summary();
    } finally {
      await workerConnection.close();
    }
  });
}

/** The same bytes a jetmesh producer sends for this payload, published as they are. */
function enqueuePayload(ctx: RunContext, params: PayloadEnqueueParams): Promise<Sample> {
  return enqueue(ctx, params, payloadFor(params.payload).data);
}

/** No decoding: the handler never looks at the bytes, as a raw consumer need not. */
function drainPayload(ctx: RunContext, params: PayloadDrainParams): Promise<Sample> {
  return drain(ctx, params, payloadFor(params.payload).data);
}

async function drainProcesses(ctx: RunContext, params: ProcessesParams): Promise<Sample> {
  return withQueue(ctx, async ({ js, jsm, stream, subject }) => {
    await publishInBatches(js, subject, params.messages, PREFILL_WINDOW, ctx.signal);
    const spec = {
      system: "raw" as const,
      natsUrl: ctx.services.natsUrl,
      stream,
      consumer: DURABLE,
      concurrency: params.concurrency,
    };
    return drainWithProcesses(ctx, { jsm, stream, spec }, params);
  });
}

async function memory(ctx: RunContext, params: MemoryParams): Promise<Sample> {
  return withQueue(ctx, async ({ js, jsm, stream, subject }) => {
    const spec = {
      system: "raw" as const,
      natsUrl: ctx.services.natsUrl,
      stream,
      consumer: DURABLE,
      concurrency: params.concurrency,
    };
    return measureWorkerMemory(ctx, { jsm, stream, spec }, params, (count, signal) =>
      publishInBatches(js, subject, count, PREFILL_WINDOW, signal),
    );
  });
}

function noop(): void {}

export const rawJetStream: System = {
  name: "raw-jetstream",
  needs: ["nats"],
  enqueue: (ctx, params) => enqueue(ctx, params),
  drain: (ctx, params) => drain(ctx, params),
  latency,
  enqueuePayload,
  drainPayload,
  drainProcesses,
  memory,
};
