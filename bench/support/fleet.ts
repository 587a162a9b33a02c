// The runs that put workers in processes of their own (support/worker-child.ts): the aggregate
// drain rate of several worker processes on one queue, and the memory of one worker process.
// Both are shared by every system; a system supplies the queue, the child's spec and a producer.

import { setTimeout as sleep } from "node:timers/promises";
import type { JetStreamManager } from "@nats-io/jetstream";
import type { MemoryParams, ProcessesParams, RunContext, Sample } from "../scenario.ts";
import { abortable } from "./abort.ts";
import { type ChildSpec, type MemoryReading, WorkerChild } from "./children.ts";

/** How often the stream's message count is read while waiting for it to reach zero. */
const EMPTY_POLL_MS = 10;
/** How often a child's handled count is read while waiting for a memory checkpoint. */
const CHECKPOINT_POLL_MS = 50;
const MB = 1024 * 1024;

/**
 * Resolves once the stream holds no message. On a WorkQueue stream a job is removed when its ack
 * is processed, so this is the moment the last completion has reached the server.
 */
export async function waitUntilEmpty(
  jsm: JetStreamManager,
  stream: string,
  signal: AbortSignal,
  timeoutMs = Number.POSITIVE_INFINITY,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    signal.throwIfAborted();
    const { messages } = (await jsm.streams.info(stream)).state;
    if (messages === 0) return;
    if (performance.now() > deadline) {
      throw new Error(`${messages} jobs still in stream ${stream} after ${timeoutMs / 1000} s`);
    }
    await sleep(EMPTY_POLL_MS);
  }
}

/** Starts `count` children; if one fails to start, the others are killed too. */
async function startChildren(spec: ChildSpec, count: number, signal: AbortSignal): Promise<WorkerChild[]> {
  const started = await Promise.allSettled(
    Array.from({ length: count }, () => WorkerChild.start(spec, signal)),
  );
  const children = started.flatMap((result) => (result.status === "fulfilled" ? [result.value] : []));
  const failure = started.find((result) => result.status === "rejected");
  if (failure !== undefined) {
    for (const child of children) child.kill();
    throw failure.reason;
  }
  return children;
}

export interface FleetQueue {
  jsm: JetStreamManager;
  /** The stream holding the queue's jobs, pre-filled with `params.messages` jobs. */
  stream: string;
  spec: ChildSpec;
}

/**
 * Times `params.processes` worker processes draining a pre-filled queue: the clock starts when
 * they are all loaded and connected and are told to go, and stops when the stream is empty.
 */
export async function drainWithProcesses(
  ctx: RunContext,
  queue: FleetQueue,
  params: ProcessesParams,
): Promise<Sample> {
  const children = await startChildren(queue.spec, params.processes, ctx.signal);
  try {
    const failed = Promise.race(children.map((child) => child.exited));
    const start = performance.now();
    await abortable(Promise.race([Promise.all(children.map((child) => child.go())), failed]), ctx.signal);
    await abortable(Promise.race([waitUntilEmpty(queue.jsm, queue.stream, ctx.signal), failed]), ctx.signal);
    const seconds = (performance.now() - start) / 1000;
    const readings = await Promise.all(children.map((child) => child.stop()));
    const handled = readings.map((reading) => reading.handled);
    const total = handled.reduce((sum, count) => sum + count, 0);
    if (total < params.messages) throw new Error(`only ${total} of ${params.messages} jobs were handled`);
    // How evenly the work spread: the busiest process's share over a fair share (1 = even).
    const imbalance = (Math.max(...handled) * params.processes) / total;
    return { rate: params.messages / seconds, imbalance };
  } finally {
    for (const child of children) child.kill();
  }
}

/** Samples `child` (after a GC) once its handlers have started at least `handled` jobs. */
async function checkpoint(
  child: WorkerChild,
  handled: number,
  failures: Promise<never>,
  signal: AbortSignal,
): Promise<MemoryReading> {
  for (;;) {
    const reading = await abortable(
      Promise.race([child.sample({ gc: false, resetPeak: false }), failures]),
      signal,
    );
    if (reading.handled >= handled) return child.sample({ gc: true, resetPeak: false });
    await sleep(CHECKPOINT_POLL_MS);
  }
}

/**
 * Memory of one worker process, in MB: idle (after a GC, `idleMs` after its worker started), the
 * peak under load while `produce` enqueues `messages` jobs that it drains, the heap growth
 * between two checkpoints of that drain (each after a GC), and the heap it still holds once it is
 * idle again, over the idle heap.
 */
export async function measureWorkerMemory(
  ctx: RunContext,
  queue: FleetQueue,
  params: MemoryParams,
  produce: (count: number, signal: AbortSignal) => Promise<void>,
): Promise<Sample> {
  const [child] = await startChildren(queue.spec, 1, ctx.signal);
  if (child === undefined) throw new Error("no worker child");
  try {
    await abortable(Promise.race([child.go(), child.exited]), ctx.signal);
    await abortable(sleep(params.idleMs), ctx.signal);
    const idle = await child.sample({ gc: true, resetPeak: true });
    const producing = produce(params.messages, ctx.signal);
    producing.catch(() => {});
    const failures = Promise.race([child.exited, producing.then(() => new Promise<never>(() => {}))]);
    const [first, second] = params.checkpoints;
    const early = await checkpoint(child, Math.floor(first * params.messages), failures, ctx.signal);
    const late = await checkpoint(child, Math.floor(second * params.messages), failures, ctx.signal);
    await abortable(Promise.race([producing, child.exited]), ctx.signal);
    await abortable(
      Promise.race([waitUntilEmpty(queue.jsm, queue.stream, ctx.signal), child.exited]),
      ctx.signal,
    );
    const loaded = await child.sample({ gc: false, resetPeak: false });
    await abortable(sleep(params.idleMs), ctx.signal);
    const after = await child.sample({ gc: true, resetPeak: false });
    const final = await child.stop();
    if (final.handled < params.messages) {
      throw new Error(`only ${final.handled} of ${params.messages} jobs were handled`);
    }
    return {
      idleRss: idle.rss / MB,
      idleHeap: idle.heapUsed / MB,
      peakRss: loaded.peakRss / MB,
      peakHeap: loaded.peakHeapUsed / MB,
      heapGrowth: (late.heapUsed - early.heapUsed) / MB,
      retainedHeap: (after.heapUsed - idle.heapUsed) / MB,
    };
  } finally {
    child.kill();
  }
}
