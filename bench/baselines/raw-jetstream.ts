// Baseline: what @nats-io/jetstream alone reaches on this machine, the ceiling that jetmesh's
// ratios are taken against. Streams are set up as jetmesh queues are (WorkQueue, discard new,
// file storage, one durable pull consumer with explicit acks), so the gap is jetmesh's own cost.
import {
  AckPolicy,
  type Consumer,
  DiscardPolicy,
  type JetStreamClient,
  type JsMsg,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
} from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import type { DrainParams, EnqueueParams, LatencyParams, RunContext, Sample, System } from "../scenario.ts";
import { abortable } from "../support/abort.ts";
import { Countdown } from "../support/countdown.ts";
import { LatencyRecorder } from "../support/latency.ts";
import { pace } from "../support/pace.ts";
import { Slots } from "../support/slots.ts";
import { readStamp, stampNow } from "../support/stamp.ts";

const NOOP_PAYLOAD = new TextEncoder().encode('{"job":"noop"}');
const DURABLE = "bench";
/** Pre-filling is not measured; it only needs to be quick. */
const PREFILL_WINDOW = 1_000;

interface BenchQueue {
  nc: NatsConnection;
  js: JetStreamClient;
  stream: string;
  subject: string;
}

/** Runs `body` against a fresh stream and consumer named after the run, deleted afterwards. */
async function withQueue<T>(ctx: RunContext, body: (queue: BenchQueue) => Promise<T>): Promise<T> {
  const nc = await connect({ servers: ctx.services.natsUrl });
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
      return await body({ nc, js: jetstream(nc), stream, subject: `bench.${ctx.runId}.noop` });
    } finally {
      await jsm.streams.delete(stream);
    }
  } finally {
    await nc.close();
  }
}

/**
 * Publishes `count` messages in batches of `window`, each batch's PubAcks awaited before the next,
 * so at most `window` are unconfirmed. Sliding windows (publish one more as each PubAck arrives,
 * or after a `Promise.race` over the pending set) measured slower with this client, so the
 * baseline uses the fastest bounded scheme.
 */
async function publishInBatches(
  js: JetStreamClient,
  subject: string,
  count: number,
  window: number,
  signal: AbortSignal,
): Promise<void> {
  for (let sent = 0; sent < count; sent += window) {
    signal.throwIfAborted();
    const batch = Math.min(window, count - sent);
    await Promise.all(Array.from({ length: batch }, () => js.publish(subject, NOOP_PAYLOAD)));
  }
}

interface Consuming {
  /** Rejects if the message iterator ends or fails before the run stops it. */
  ended: Promise<never>;
  stop(): Promise<void>;
}

/**
 * One consume() loop feeding up to `concurrency` handlers at once. A handler is a no-op that
 * yields once, like an async job that does nothing, then acks; `onStart` sees each job first.
 */
async function consumeConcurrently(
  consumer: Consumer,
  concurrency: number,
  onStart: (msg: JsMsg) => void,
  onAcked: () => void,
): Promise<Consuming> {
  const messages = await consumer.consume({ max_messages: concurrency });
  const slots = new Slots(concurrency);
  const handle = async (msg: JsMsg) => {
    onStart(msg);
    await Promise.resolve();
    msg.ack();
    slots.release();
    onAcked();
  };
  let stopping = false;
  const loop = (async () => {
    for await (const msg of messages) {
      await slots.acquire();
      void handle(msg);
    }
  })();
  const ended = loop.then(() => {
    if (!stopping) throw new Error("the consumer's message iterator ended early");
    return new Promise<never>(noop);
  });
  return {
    ended,
    async stop() {
      stopping = true;
      messages.stop();
      await loop;
    },
  };
}

async function enqueue(ctx: RunContext, params: EnqueueParams): Promise<Sample> {
  return withQueue(ctx, async ({ js, subject }) => {
    // One untimed batch first, so connection set-up and JIT warm-up are not measured.
    await publishInBatches(js, subject, params.window, params.window, ctx.signal);
    const start = performance.now();
    await publishInBatches(js, subject, params.messages, params.window, ctx.signal);
    return { rate: params.messages / ((performance.now() - start) / 1000) };
  });
}

async function drain(ctx: RunContext, params: DrainParams): Promise<Sample> {
  return withQueue(ctx, async ({ nc, js, stream, subject }) => {
    await publishInBatches(js, subject, params.messages, PREFILL_WINDOW, ctx.signal);
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
    const workerConnection = await connect({ servers: ctx.services.natsUrl });
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

function noop(): void {}

export const rawJetStream: System = { name: "raw-jetstream", needs: ["nats"], enqueue, drain, latency };
