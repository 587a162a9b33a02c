// Priorities and rate limits together: a rate-limited queue served with `priority` starts no more
// jobs than its limit (at most limit + 1 per window, as test/rate-limits counts), passes the slots
// it may not use to the lower queue instead of stalling the worker, never charges a waiting job a
// delivery, and a limit removed at run time is lifted.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import {
  defineJob,
  JetmeshClient,
  LimitStore,
  limitsBucket,
  type PriorityOption,
  permitsBucket,
  type RateLimit,
  Worker,
} from "../../runtime/index.ts";
import { type NatsServer, startServer, uniqueName, waitFor } from "../support/harness.ts";

let server: NatsServer;
let client: JetmeshClient;
let jsm: JetStreamManager;
let limits: LimitStore;
const workers: Worker[] = [];
/** Every sampler started, stopped at the end. */
const samplers: NodeJS.Timeout[] = [];

before(async () => {
  server = await startServer();
  client = await JetmeshClient.connect({ connection: { servers: server.url } });
  // The buckets come with the first queue declared.
  await client.queues.declare(uniqueName("first"));
  jsm = await jetstreamManager(client.nc);
  const kvm = new Kvm(client.nc);
  limits = new LimitStore(
    await kvm.open(limitsBucket(client.subjects.prefix)),
    await kvm.open(permitsBucket(client.subjects.prefix)),
  );
});

after(async () => {
  for (const sampler of samplers) clearInterval(sampler);
  for (const worker of workers) await worker.close(100);
  await client.close();
  await server.stop();
});

interface Run {
  queue: string;
  name: string;
  attempt: number;
  at: number;
}

const PER_SECOND: RateLimit = { limit: 5, intervalMs: 1000 };

/**
 * A worker serving [high, low] (strict unless told) with four shared slots; every job sleeps `ms` (so slots
 * are busy) and is recorded as it starts. High's ack wait is short: a job held for a permit
 * outlives it, so only lease renewals keep it delivered once.
 */
async function startWorker(
  names: string[],
  priority: PriorityOption | ((high: string, low: string) => PriorityOption) = "strict",
): Promise<{ high: string; low: string; runs: Run[]; worker: Worker }> {
  const high = uniqueName("high");
  const low = uniqueName("low");
  await client.queues.declare(high, { ackWaitMs: 2000 });
  await client.queues.declare(low);
  const runs: Run[] = [];
  const worker = await Worker.start({
    connection: client.nc,
    queues: [high, low],
    priority: typeof priority === "function" ? priority(high, low) : priority,
    concurrency: 4,
    jobs: names.map((name) =>
      defineJob<{ ms: number }>({
        name,
        run: async (payload, ctx) => {
          runs.push({ queue: ctx.queue, name, attempt: ctx.attempt, at: Date.now() });
          await new Promise((resolve) => setTimeout(resolve, payload.ms));
        },
      }),
    ),
    heartbeatIntervalMs: 200,
  });
  workers.push(worker);
  return { high, low, runs, worker };
}

async function fill(queue: string, name: string, count: number, ms: number): Promise<void> {
  await client.enqueueMany(Array.from({ length: count }, () => ({ queue, name, payload: { ms } })));
}

/** The most jobs the consumer ever counted as redelivered, sampled while jobs wait. */
function watchRedeliveries(queues: string[]): { max: number } {
  const seen = { max: 0 };
  const sampler = setInterval(() => {
    for (const queue of queues) {
      client.queues
        .settings(queue)
        .then(({ stream, consumer }) => jsm.consumers.info(stream, consumer))
        .then(
          (info) => (seen.max = Math.max(seen.max, info.num_redelivered)),
          () => {},
        );
    }
  }, 250);
  samplers.push(sampler);
  return seen;
}

/** Starts per window of 1 s (window = floor(at / 1000), as the workers count), oldest first. */
function perWindow(runs: readonly Run[]): [number, number][] {
  const windows = new Map<number, number>();
  for (const run of runs) {
    const window = Math.floor(run.at / 1000);
    windows.set(window, (windows.get(window) ?? 0) + 1);
  }
  return [...windows.entries()].sort(([a], [b]) => a - b);
}

/** Whole windows from the first to the last of `runs` in which no job of `others` started. */
function windowsWithout(runs: readonly Run[], others: readonly Run[]): number[] {
  const windows = perWindow(runs).map(([window]) => window);
  const busy = new Set(perWindow(others).map(([window]) => window));
  return windows.slice(1, -1).filter((window) => !busy.has(window));
}

/**
 * The limited starts spread over at least `minWindows` windows, no window had more than 5 + 1 of
 * them, and the other queue started jobs in every window they spanned (it took the slots).
 */
function assertLimitHeld(
  limited: readonly Run[],
  others: readonly Run[],
  minWindows: number,
  what: string,
): void {
  const counts = perWindow(limited).map(([, count]) => count);
  assert.ok(
    counts.length >= minWindows,
    `${what} starts spread over at least ${minWindows} windows (got ${counts.length})`,
  );
  assert.deepEqual(
    counts.filter((count) => count > 6),
    [],
    `no window had more than 5 + 1 ${what} starts`,
  );
  assert.deepEqual(
    windowsWithout(limited, others),
    [],
    `low jobs started in every window ${what} was limited`,
  );
}

function assertFirstAttempts(runs: readonly Run[]): void {
  assert.deepEqual(
    runs.filter((run) => run.attempt !== 1).map((run) => `${run.queue}/${run.name}: attempt ${run.attempt}`),
    [],
    "every job started on its first attempt",
  );
}

test("a 5/s limit on the high queue holds, and the low queue takes the slots high may not use", async (t) => {
  const { high, low, runs } = await startWorker(["work"]);
  await limits.set({ queue: high }, PER_SECOND, { by: "test", at: Date.now() });
  const redelivered = watchRedeliveries([high, low]);
  const highJobs = 30;
  await fill(low, "work", 2000, 20);
  await fill(high, "work", highJobs, 20);
  await waitFor(() => runs.filter((run) => run.queue === high).length === highJobs, "every high job", 60_000);

  const highRuns = runs.filter((run) => run.queue === high);
  const lowRuns = runs.filter((run) => run.queue === low && run.at <= highRuns.at(-1)!.at);
  const counts = perWindow(highRuns).map(([, count]) => count);
  t.diagnostic(`high starts per 1 s window: ${counts.join(" ")}`);
  t.diagnostic(
    `low starts per 1 s window meanwhile: ${perWindow(lowRuns)
      .map(([, count]) => count)
      .join(" ")}`,
  );
  assertLimitHeld(highRuns, lowRuns, 6, "high");
  assertFirstAttempts(runs);
  assert.equal(redelivered.max, 0, "no job was redelivered while it waited");
});

test("a job-name limit on a lane holds back only that name; its held jobs keep their first delivery", async (t) => {
  const { high, low, runs } = await startWorker(["limited", "free", "work"]);
  await limits.set({ queue: high, name: "limited" }, PER_SECOND, { by: "test", at: Date.now() });
  const redelivered = watchRedeliveries([high, low]);
  await fill(low, "work", 2000, 20);
  const highJobs = 50;
  await client.enqueueMany(
    Array.from({ length: highJobs }, (_, i) => ({
      queue: high,
      name: i % 5 === 0 ? "free" : "limited",
      payload: { ms: 20 },
    })),
  );
  await waitFor(() => runs.filter((run) => run.queue === high).length === highJobs, "every high job", 60_000);

  const limited = runs.filter((run) => run.name === "limited");
  const free = runs.filter((run) => run.name === "free");
  const lowRuns = runs.filter((run) => run.queue === low && run.at <= limited.at(-1)!.at);
  const counts = perWindow(limited).map(([, count]) => count);
  t.diagnostic(`"limited" starts per 1 s window: ${counts.join(" ")}`);
  t.diagnostic(
    `"free" (unlimited, same queue) starts per 1 s window: ${perWindow(free)
      .map(([, c]) => c)
      .join(" ")}`,
  );
  t.diagnostic(`low starts while "limited" was held back: ${lowRuns.length}`);
  assertLimitHeld(limited, lowRuns, 8, '"limited"');
  assert.equal(free.length, highJobs / 5, "the unlimited name of the same queue all ran");
  assertFirstAttempts(runs);
  assert.equal(redelivered.max, 0, "no job was redelivered while it waited");
});

test("removing the limit at run time lifts it from the lane", async (t) => {
  const { high, low, runs } = await startWorker(["work"]);
  await limits.set({ queue: high }, PER_SECOND, { by: "test", at: Date.now() });
  await fill(low, "work", 2000, 20);
  await fill(high, "work", 300, 20);
  const highRuns = () => runs.filter((run) => run.queue === high);
  // Three windows' worth: at least two whole windows under the limit.
  await waitFor(() => highRuns().length >= 15, "15 high jobs to start at 5/s");

  const removedAt = Date.now();
  assert.equal(await limits.remove({ queue: high }), true);
  await waitFor(
    () => perWindow(highRuns()).some(([, count]) => count > 6),
    "a window with more than 5 + 1 high starts (the limit lifted)",
    60_000,
  );
  const windows = perWindow(highRuns());
  const before = windows.filter(([window]) => (window + 1) * 1000 <= removedAt).map(([, count]) => count);
  t.diagnostic(`high starts per 1 s window: ${windows.map(([, count]) => count).join(" ")}`);
  t.diagnostic(`whole windows before the removal: ${before.join(" ")}`);
  assert.ok(before.length > 0, "a whole window passed under the limit");
  assert.deepEqual(
    before.filter((count) => count > 6),
    [],
    "at most 5 + 1 per window before the removal",
  );
  assertFirstAttempts(runs);
});

test("weighted: a 5/s limit on the heavier queue holds, and the other queue takes its turns", async (t) => {
  const { high, low, runs } = await startWorker(["work"], (high, low) => ({
    weights: { [high]: 3, [low]: 1 },
  }));
  await limits.set({ queue: high }, PER_SECOND, { by: "test", at: Date.now() });
  const redelivered = watchRedeliveries([high, low]);
  const highJobs = 20;
  await fill(low, "work", 2000, 20);
  await fill(high, "work", highJobs, 20);
  await waitFor(() => runs.filter((run) => run.queue === high).length === highJobs, "every high job", 60_000);

  const highRuns = runs.filter((run) => run.queue === high);
  const lowRuns = runs.filter((run) => run.queue === low && run.at <= (highRuns.at(-1) as Run).at);
  const counts = perWindow(highRuns).map(([, count]) => count);
  t.diagnostic(`high (weight 3) starts per 1 s window: ${counts.join(" ")}`);
  t.diagnostic(`low (weight 1) starts meanwhile: ${lowRuns.length}`);
  assertLimitHeld(highRuns, lowRuns, 4, "high");
  assertFirstAttempts(runs);
  assert.equal(redelivered.max, 0, "no job was redelivered while it waited");
});

test("jobs a lane holds for a permit are handed back on pause, with no attempt charged", async (t) => {
  const { high, runs, worker } = await startWorker(["limited"]);
  await limits.set(
    { queue: high, name: "limited" },
    { limit: 1, intervalMs: 60_000 },
    { by: "test", at: Date.now() },
  );
  const jobs = 10;
  await fill(high, "limited", jobs, 1);
  const { stream, consumer } = await client.queues.settings(high);
  const info = () => jsm.consumers.info(stream, consumer);
  // One starts on the window's permit; the lane holds refused ones up to its bound (4 slots).
  await waitFor(async () => runs.length === 1 && (await info()).num_ack_pending >= 4, "refused jobs held");
  const heldBefore = (await info()).num_ack_pending;

  worker.pause(high);
  await waitFor(async () => (await info()).num_ack_pending === 0, "the held jobs handed back");
  assert.equal(runs.length, 1, "no held job started on pause");
  assert.equal(await limits.remove({ queue: high, name: "limited" }), true);
  worker.resume(high);
  await waitFor(() => runs.length === jobs, "every job once resumed without the limit");
  const after = await info();
  t.diagnostic(`held under lease before the pause: ${heldBefore}; redelivered: ${after.num_redelivered}`);
  assert.ok(heldBefore <= 4, `the lane held at most one job per slot (held ${heldBefore})`);
  assert.equal(after.num_redelivered, 0, "no job was redelivered");
  assertFirstAttempts(runs);
});
