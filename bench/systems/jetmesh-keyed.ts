// The keyed scenario, jetmesh only (neither baseline has keyed jobs): one worker drains the same
// number of pre-filled no-op jobs spread over 1, 100 or 100,000 keys, and unkeyed, in one run, so
// the cost of keeping each key's order shows as the gap to the unkeyed rate.
import type { JobToEnqueue } from "../../runtime/index.ts";
import { connectNats } from "../../runtime/index.ts";
import type { KeyedParams, RunContext, Sample } from "../scenario.ts";
import { abortable } from "../support/abort.ts";
import { Countdown } from "../support/countdown.ts";
import { waitUntilEmpty } from "../support/fleet.ts";
import {
  type BenchQueue,
  JOB_NAME,
  NOOP_PAYLOAD,
  SETTLED_CHECK_MS,
  StallWatch,
  startWorker,
  withQueue,
} from "./jetmesh.ts";

const PREFILL_WINDOW = 1_000;

/** The sample's key for a drain over `keys` keys (undefined: unkeyed). */
export function keyedMetric(keys: number | undefined): string {
  return keys === undefined ? "unkeyed" : `keys${keys}`;
}

/** Whether this process has drained keyed and unkeyed jobs once, untimed. */
let warmedUp = false;

export async function keyedThroughput(ctx: RunContext, params: KeyedParams): Promise<Sample> {
  if (!warmedUp) {
    // Otherwise the first drain of the first run (unkeyed) would also pay for JIT warm-up.
    const small = { ...params, messages: Math.min(params.messages, 3_000) };
    for (const keys of [undefined, 100]) await measure(ctx, small, keys, "_warmup");
    warmedUp = true;
  }
  const sample: Sample = {};
  for (const keys of [undefined, ...params.keys]) {
    const figures = await measure(ctx, params, keys);
    for (const [name, value] of Object.entries(figures))
      sample[name === "rate" ? keyedMetric(keys) : `${name}_${keyedMetric(keys)}`] = value;
  }
  return sample;
}

function measure(ctx: RunContext, params: KeyedParams, keys: number | undefined, tag = ""): Promise<Sample> {
  // Unkeyed on a queue without partitions: the worker's path untouched by keyed jobs.
  const options = keys === undefined ? {} : { keyPartitions: params.partitions };
  return withQueue(ctx, (queue) => drainKeyed(ctx, queue, params, keys), {
    suffix: `_${keyedMetric(keys)}${tag}`,
    options,
  });
}

/** Job `i` has key `k<i mod keys>`: every key's jobs are spread through the whole stream. */
async function prefill(
  { client, queue }: BenchQueue,
  messages: number,
  keys: number | undefined,
  signal: AbortSignal,
): Promise<void> {
  for (let sent = 0; sent < messages; sent += PREFILL_WINDOW) {
    signal.throwIfAborted();
    const jobs: JobToEnqueue[] = [];
    for (let i = sent; i < Math.min(messages, sent + PREFILL_WINDOW); i++) {
      jobs.push({
        queue,
        name: JOB_NAME,
        payload: NOOP_PAYLOAD,
        options: keys === undefined ? undefined : { key: `k${i % keys}` },
      });
    }
    await client.enqueueMany(jobs);
  }
}

/** Times a Worker from its start until the server has the last ack, as the drain scenarios do. */
async function drainKeyed(
  ctx: RunContext,
  queue: BenchQueue,
  params: KeyedParams,
  keys: number | undefined,
): Promise<Sample> {
  await prefill(queue, params.messages, keys, ctx.signal);
  const nc = await connectNats({ servers: ctx.services.natsUrl });
  try {
    const handled = new Countdown(params.messages);
    const watch = new StallWatch(nc);
    const start = performance.now();
    const worker = await startWorker(
      nc,
      queue.queue,
      params.concurrency,
      { events: true },
      (_payload, attempt) => {
        watch.started(attempt);
        handled.tick();
      },
    );
    try {
      await abortable(handled.done, ctx.signal);
      await new Promise((resolve) => setImmediate(resolve));
      await nc.flush();
      const seconds = (performance.now() - start) / 1000;
      await waitUntilEmpty(queue.jsm, queue.stream, ctx.signal, SETTLED_CHECK_MS);
      return { rate: params.messages / seconds, redelivered: watch.redelivered };
    } finally {
      await worker.close();
    }
  } finally {
    await nc.close();
  }
}
