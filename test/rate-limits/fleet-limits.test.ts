// Acceptance 3: a rate limit holds across three worker processes (at most limit + 1 starts in
// every window), waiting jobs are never charged a delivery, and a limit changed or removed
// through the CLI takes effect without restarting a worker.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { ControlPlane } from "../../control-plane/index.ts";
import { call, runCli, startControlPlane } from "../control-plane/support.ts";
import {
  type LedgerEntry,
  type MeshBundle,
  setupMesh,
  uniqueName,
  WorkerProcess,
  waitFor,
} from "../support/harness.ts";

let mesh: MeshBundle;
let service: ControlPlane;
const workers: WorkerProcess[] = [];
const queues = { fleet: "", named: "", changed: "" };

before(async () => {
  // A short ack wait: jobs held for a permit outlive it, so only lease renewals keep them delivered once.
  mesh = await setupMesh({ ackWaitMs: 2000 });
  queues.fleet = mesh.queue;
  queues.named = uniqueName();
  queues.changed = uniqueName();
  await mesh.client.queues.declare(queues.named, { ackWaitMs: 2000 });
  await mesh.client.queues.declare(queues.changed, { ackWaitMs: 2000 });
  service = await startControlPlane(mesh.server.url);
  const env = { JETMESH_QUEUES: Object.values(queues).join(","), JETMESH_CONCURRENCY: "8" };
  workers.push(...(await Promise.all([1, 2, 3].map(() => WorkerProcess.start(mesh.server.url, env)))));
});

after(async () => {
  await Promise.all(workers.map((worker) => worker.kill()));
  await service.stop();
  await mesh.close();
});

/** Resolves once every worker logged that it applied this rate to the queue (or lifted it). */
async function appliedEverywhere(queue: string, rate: string | null): Promise<void> {
  await waitFor(
    () =>
      workers.every((worker) =>
        worker.lines.some((line) => {
          if (!line.includes('"rate limit')) return false;
          const entry = JSON.parse(line) as {
            queue: string;
            rate: { limit: number; intervalMs: number } | null;
          };
          const shown = entry.rate === null ? null : `${entry.rate.limit}/${entry.rate.intervalMs}`;
          return entry.queue === queue && shown === rate;
        }),
      ),
    `every worker to apply ${rate ?? "no limit"} on ${queue}`,
  );
}

/**
 * The runs of a queue's jobs as the fixture handlers record them in the ledger, live: each entry
 * is written as the handler starts, with the attempt it runs as. (Lifecycle events would do too,
 * but a job that ends in the turn it started sends its completion without a separate start.)
 */
function collectRuns(queue: string): LedgerEntry[] {
  const runs: LedgerEntry[] = [];
  mesh.nc.subscribe(`ledger.${queue}`, {
    callback: (_error, msg) => void runs.push(msg.json<LedgerEntry>()),
  });
  return runs;
}

/** Starts per window of `intervalMs` (window = floor(at / intervalMs), as the workers count). */
function startsPerWindow(started: readonly LedgerEntry[], intervalMs: number): Map<number, number> {
  const windows = new Map<number, number>();
  for (const run of started) {
    const window = Math.floor(run.at / intervalMs);
    windows.set(window, (windows.get(window) ?? 0) + 1);
  }
  return windows;
}

function named(runs: readonly LedgerEntry[], name: string): LedgerEntry[] {
  return runs.filter((run) => run.name === name);
}

/** Every job ran once, on its first delivery, and the consumer delivered each job exactly once. */
async function assertNoDeliveryCharged(queue: string, runs: LedgerEntry[], jobs: number) {
  assert.equal(runs.length, jobs);
  assert.equal(new Set(runs.map((run) => run.jobId)).size, jobs, "every job ran once");
  assert.deepEqual(
    runs.filter((run) => run.attempt !== 1).map((run) => `${run.jobId}: attempt ${run.attempt}`),
    [],
    "no job started on a later delivery",
  );
  const { stream, consumer } = await mesh.client.queues.settings(queue);
  const info = await mesh.jsm.consumers.info(stream, consumer);
  assert.equal(info.num_redelivered, 0);
  assert.equal(info.delivered.consumer_seq, jobs, "the consumer made one delivery per job");
}

test("a 10/s limit holds across three workers over more than 10 s, and no waiting job is charged a delivery", async (t) => {
  const queue = queues.fleet;
  await call(service, "limits.set", { queue, rate: "10/s", by: "test" });
  await appliedEverywhere(queue, "10/1000");
  const runs = collectRuns(queue);
  const jobs = 115;
  // Sampled while jobs wait: a nak or an expired lease would show as a redelivered job.
  let maxRedelivered = 0;
  const { stream, consumer } = await mesh.client.queues.settings(queue);
  const sampler = setInterval(() => {
    mesh.jsm.consumers.info(stream, consumer).then(
      (info) => (maxRedelivered = Math.max(maxRedelivered, info.num_redelivered)),
      () => {},
    );
  }, 250);
  await mesh.client.enqueueMany(
    Array.from({ length: jobs }, (_, i) => ({ queue, name: "record", payload: { i } })),
  );
  await waitFor(() => runs.length === jobs, "every job to complete", 120_000);
  clearInterval(sampler);

  const windows = startsPerWindow(runs, 1000);
  const counts = [...windows.entries()].sort(([a], [b]) => a - b).map(([, count]) => count);
  const span = Math.max(...runs.map((run) => run.at)) - Math.min(...runs.map((run) => run.at));
  t.diagnostic(
    `starts per 1 s window: ${counts.join(" ")} (${windows.size} windows, first to last start ${span} ms)`,
  );
  t.diagnostic(
    `starts per worker process: ${[...new Set(runs.map((run) => run.pid))].map((pid) => runs.filter((run) => run.pid === pid).length).join(" ")}`,
  );
  assert.ok(windows.size >= 11, `the starts spread over at least 11 windows (got ${windows.size})`);
  assert.deepEqual(
    counts.filter((count) => count > 11),
    [],
    "no window had more than 10 + 1 starts",
  );
  assert.equal(maxRedelivered, 0, "no job was redelivered while it waited");
  await assertNoDeliveryCharged(queue, runs, jobs);
});

test("a job-name limit holds back only that name; its held jobs keep their first delivery", async (t) => {
  const queue = queues.named;
  await call(service, "limits.set", { queue, name: "record", limit: 5, intervalMs: 1000, by: "test" });
  await appliedEverywhere(queue, "5/1000");
  const runs = collectRuns(queue);
  const limited = 30;
  const free = 30;
  // When the stream has handed out every job, the limited ones not started yet are held in workers.
  const { stream, consumer } = await mesh.client.queues.settings(queue);
  let allDeliveredAt: number | undefined;
  const sampler = setInterval(() => {
    mesh.jsm.consumers.info(stream, consumer).then(
      (info) => {
        if (info.num_pending === 0 && info.delivered.consumer_seq > 0) allDeliveredAt ??= Date.now();
      },
      () => {},
    );
  }, 200);
  await mesh.client.enqueueMany(
    Array.from({ length: limited + free }, (_, i) =>
      i % 2 === 0 ? { queue, name: "record", payload: { i } } : { queue, name: "slow", payload: { ms: 1 } },
    ),
  );
  await waitFor(() => runs.length === limited + free, "every job to complete", 120_000);
  clearInterval(sampler);
  const counts = [...startsPerWindow(named(runs, "record"), 1000).values()];
  const unlimited = named(runs, "slow");
  t.diagnostic(`"record" starts per 1 s window: ${counts.join(" ")}`);
  t.diagnostic(
    `"slow" (unlimited) starts spread over ${Math.max(...unlimited.map((run) => run.at)) - Math.min(...unlimited.map((run) => run.at))} ms`,
  );
  const lastLimitedStart = Math.max(...named(runs, "record").map((run) => run.at));
  t.diagnostic(
    `every job was delivered by ${allDeliveredAt === undefined ? "?" : lastLimitedStart - allDeliveredAt} ms before the last limited start: held that long under lease (ack wait 2000 ms)`,
  );
  assert.ok(counts.length >= 6, `the limited starts spread over at least 6 windows (got ${counts.length})`);
  assert.deepEqual(
    counts.filter((count) => count > 6),
    [],
    "no window had more than 5 + 1 starts of the limited name",
  );
  await assertNoDeliveryCharged(queue, runs, limited + free);
});

test("a limit changed through the CLI (5/s to 20/s) applies without restarts, and removing it through the API lifts it", async (t) => {
  const queue = queues.changed;
  const env = { NATS_URL: mesh.server.url };
  const set5 = await runCli(["limit", "set", queue, "--rate", "5/s", "--reason", "warm-up"], env);
  assert.equal(set5.code, 0, set5.stderr);
  await appliedEverywhere(queue, "5/1000");
  const runs = collectRuns(queue);
  const jobs = 300;
  await mesh.client.enqueueMany(
    Array.from({ length: jobs }, (_, i) => ({ queue, name: "record", payload: { i } })),
  );
  await waitFor(() => runs.length >= 10, "10 jobs to start at 5/s");

  const changedAt = Date.now();
  const set20 = await runCli(["limit", "set", queue, "--rate", "20/s"], env);
  assert.equal(set20.code, 0, set20.stderr);
  await appliedEverywhere(queue, "20/1000");
  const appliedAt = Date.now();
  const endOf = (window: number) => (window + 1) * 1000;
  /** Windows wholly after the new limit applied everywhere and wholly before `until`. */
  const under20 = (until: number) =>
    [...startsPerWindow(runs, 1000).entries()]
      .filter(([window]) => window * 1000 >= appliedAt && endOf(window) <= until)
      .map(([, count]) => count);
  await waitFor(
    () => under20(Date.now()).some((count) => count > 6),
    "a whole window under the new limit with more than 5 + 1 starts",
    60_000,
  );

  const removedAt = Date.now();
  // Through the API this time (test/rate-limits/limit-commands.test.ts runs `jetmesh limit rm`).
  await call(service, "limits.remove", { queue, by: "test" });
  await waitFor(
    () => [...startsPerWindow(runs, 1000).values()].some((count) => count > 21),
    "a window with more than 20 + 1 starts (the limit lifted)",
    60_000,
  );
  await waitFor(() => runs.length === jobs, "every job to complete", 60_000);

  const windows = [...startsPerWindow(runs, 1000).entries()].sort(([a], [b]) => a - b);
  t.diagnostic(`starts per 1 s window: ${windows.map(([, count]) => count).join(" ")}`);
  const before = windows.filter(([window]) => endOf(window) <= changedAt).map(([, count]) => count);
  const untilRemoved = windows.filter(([window]) => endOf(window) <= removedAt).map(([, count]) => count);
  t.diagnostic(`whole windows at 20/s before the removal: ${under20(removedAt).join(" ")}`);
  assert.ok(before.length > 0);
  assert.deepEqual(
    before.filter((count) => count > 6),
    [],
    "at most 5 + 1 per window before the change",
  );
  assert.deepEqual(
    untilRemoved.filter((count) => count > 21),
    [],
    "at most 20 + 1 per window before the removal",
  );
  await assertNoDeliveryCharged(queue, runs, jobs);
});
