// Operator views of keyed jobs: a queue's figures (`jetmesh queue --json`, `/metrics`) count the
// jobs waiting in its partitions, owned or not, and those its partition owners hold; `jobs.get`
// finds a keyed job waiting in a partition; keyed jobs waiting in partitions no worker has taken
// are flagged as a stall even while the queue's unkeyed jobs flow; and a retried keyed dead letter
// goes back to its key's partition and waits for the job of its key that is running.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type {
  DeadLetterRetryResult,
  DeadLetterSummary,
  HealthReport,
  JobLookup,
  QueueView,
} from "../../control-plane/api/protocol.ts";
import type { ControlPlane } from "../../control-plane/index.ts";
import { createLogger, defineJob, Header, Subjects, Worker } from "../../runtime/index.ts";
import { keyedSubject, partitionOf } from "../../runtime/keyed/partitions.ts";
import { call, parseJson, runCli, startControlPlane } from "../control-plane/support.ts";
import { sampleSum, scrape } from "../observability/scrape.ts";
import { type MeshBundle, setupMesh, uniqueName, waitFor } from "../support/harness.ts";

const PARTITIONS = 4;

let mesh: MeshBundle;
let cp: ControlPlane;
let metricsUrl: string;
const workers: Worker[] = [];

/** What each run did, in the order it happened. */
const runs: { id: string; phase: "start" | "end" | "fail" }[] = [];
/** Releases of the held runs, by job id. */
const gates = new Map<string, () => void>();
/** Jobs that fail their first run (and no other). */
const failOnce = new Set<string>();

const hold = defineJob<{ hold?: boolean }>({
  name: "hold",
  run: async (payload, ctx) => {
    runs.push({ id: ctx.id, phase: "start" });
    if (failOnce.delete(ctx.id)) {
      runs.push({ id: ctx.id, phase: "fail" });
      throw new Error("fails its first run on purpose");
    }
    if (payload.hold === true) await new Promise<void>((resolve) => gates.set(ctx.id, resolve));
    runs.push({ id: ctx.id, phase: "end" });
  },
});

function release(...ids: string[]): void {
  for (const id of ids) {
    gates.get(id)?.();
    gates.delete(id);
  }
}

async function startWorker(queue: string): Promise<Worker> {
  const worker = await Worker.start({
    connection: { servers: mesh.server.url },
    queues: [queue],
    jobs: [hold],
    concurrency: 10,
    logger: createLogger({}, { JETMESH_LOG_LEVEL: "silent" }),
  });
  workers.push(worker);
  return worker;
}

before(async () => {
  mesh = await setupMesh({ keyPartitions: PARTITIONS });
  cp = await startControlPlane(mesh.server.url, {
    httpPort: 0,
    httpHost: "127.0.0.1",
    stallWindowMs: 3000,
  });
  metricsUrl = `http://127.0.0.1:${cp.httpPort}/metrics`;
});

after(async () => {
  for (const gate of gates.values()) gate();
  for (const worker of workers) await worker.close(100);
  await cp.stop();
  await mesh.close();
});

async function queueJson(queue: string): Promise<QueueView> {
  const run = await runCli(["-s", mesh.server.url, "queue", queue, "--json"]);
  assert.equal(run.code, 0, run.stderr);
  return parseJson<QueueView>(run);
}

function figures(view: QueueView) {
  return { backlog: view.backlog, pending: view.pending, inFlight: view.inFlight, keyed: view.keyed };
}

test("queue figures and /metrics count keyed jobs; jobs.get finds one waiting in a partition", async (t) => {
  const queue = mesh.queue;
  const id = (name: string) => `${queue}-${name}`;
  await mesh.client.enqueueMany([
    ...["u1", "u2", "u3"].map((name) => ({
      queue,
      name: "hold",
      payload: { hold: true },
      options: { jobId: id(name) },
    })),
    ...["a1", "a2", "a3", "b1", "b2"].map((name) => ({
      queue,
      name: "hold",
      payload: { hold: true },
      options: { jobId: id(name), key: `key-${name[0]}` },
    })),
  ]);

  // No worker yet: every partition is without an owner and all 8 jobs wait.
  const waiting = await queueJson(queue);
  t.diagnostic(`no worker: ${JSON.stringify(figures(waiting))}`);
  assert.deepEqual(figures(waiting), {
    backlog: 8,
    pending: 8,
    inFlight: 0,
    keyed: { jobs: 5, pending: 5, inFlight: 0, ownedPartitions: 0, unowned: 5 },
  });
  const human = await runCli(["-s", mesh.server.url, "queue", queue]);
  assert.match(human.stdout, /backlog:\s+8 \(8 pending, 0 in flight/);
  assert.match(
    human.stdout,
    /keyed:\s+5 of them \(5 pending, 0 in flight; 0 partition\(s\) taken, 5 job\(s\) in partitions no worker has taken\)/,
  );
  const lookup = await call<JobLookup>(cp, "jobs.get", { jobId: id("a2") });
  assert.equal(lookup.state, "waiting");
  assert.equal(lookup.key, "key-a");
  assert.equal(lookup.name, "hold");
  const metric = (samples: Awaited<ReturnType<typeof scrape>>, name: string) =>
    sampleSum(samples, name, { queue });
  await waitFor(async () => {
    const samples = await scrape(metricsUrl);
    return (
      metric(samples, "jetmesh_queue_pending") === 8 &&
      (metric(samples, "jetmesh_queue_oldest_waiting_age_seconds") ?? 0) > 0
    );
  }, "/metrics to count the 8 waiting jobs, with an oldest waiting age");

  // A worker takes every partition: it runs the 3 unkeyed jobs and one job per key, and holds the
  // other 3 keyed jobs behind their keys. All 8 are in flight, none waits.
  await startWorker(queue);
  const held = await waitFor(async () => {
    const view = await queueJson(queue);
    return view.pending === 0 && view.inFlight === 8 && view.keyed?.ownedPartitions === PARTITIONS
      ? view
      : undefined;
  }, "all 8 jobs in flight");
  t.diagnostic(`one worker: ${JSON.stringify(figures(held))}, maxInFlight ${held.maxInFlight}`);
  assert.deepEqual(held.keyed, { jobs: 5, pending: 0, inFlight: 5, ownedPartitions: PARTITIONS, unowned: 0 });
  assert.equal(held.backlog, 8);
  await waitFor(async () => {
    const samples = await scrape(metricsUrl);
    return (
      metric(samples, "jetmesh_queue_pending") === 0 &&
      metric(samples, "jetmesh_queue_in_flight") === 8 &&
      metric(samples, "jetmesh_queue_oldest_waiting_age_seconds") === 0
    );
  }, "/metrics to show the 8 jobs in flight");

  // One job per key runs at a time: release everything, then each key's later jobs run too.
  while (runs.filter((r) => r.phase === "end").length < 8) {
    release(...gates.keys());
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await waitFor(async () => (await queueJson(queue)).backlog === 0, "the queue to empty");
});

test("keyed jobs in partitions no worker has taken are a stall, even while unkeyed jobs flow", async (t) => {
  // The worker starts before the queue has partitions, so it serves its unkeyed jobs only.
  const queue = uniqueName("late");
  await mesh.client.queues.declare(queue);
  await startWorker(queue);
  await mesh.client.queues.declare(queue, { keyPartitions: PARTITIONS });
  await mesh.client.enqueue(queue, "hold", {}, { key: "stranded" });
  let flowing = 0;
  const report = await waitFor(
    async () => {
      await mesh.client.enqueue(queue, "hold", {});
      flowing++;
      const health = await call<HealthReport>(cp, "health", { queue });
      return health.stalls.some((s) => s.queue === queue) ? health : undefined;
    },
    "the stranded keyed job to be flagged",
    60_000,
    300,
  );
  const stall = report.stalls.find((s) => s.queue === queue);
  t.diagnostic(`flagged after ${flowing} unkeyed jobs enqueued meanwhile: ${stall?.detail}`);
  assert.equal(stall?.cause, "unowned-partitions");
  const completed = runs.filter((r) => r.phase === "end").length;
  assert.ok(completed > 8, "unkeyed jobs kept completing while the keyed one was stranded");
});

test("a retried keyed dead letter goes back to its partition and waits for its key's running job", async () => {
  const queue = mesh.queue;
  const key = "key-retry";
  const dead = `${queue}-dead`;
  const blocker = `${queue}-blocker`;
  failOnce.add(dead);
  await mesh.client.enqueue(queue, "hold", {}, { key, jobId: dead, maxAttempts: 1 });
  await waitFor(
    async () =>
      (await call<{ deadLetters: DeadLetterSummary[] }>(cp, "dlq.list", { queue })).deadLetters.some(
        (l) => l.jobId === dead,
      ),
    "the keyed job to be dead-lettered",
  );
  await mesh.client.enqueue(queue, "hold", { hold: true }, { key, jobId: blocker });
  await waitFor(() => gates.has(blocker), "the blocker to run");

  const retry = await call<DeadLetterRetryResult>(cp, "dlq.retry", { queue, jobId: dead });
  assert.deepEqual(retry.failed, []);
  const sequence = retry.retried[0]?.sequence;
  assert.ok(sequence !== undefined);
  const stored = await mesh.jsm.streams.getMessage(mesh.stream, { seq: sequence });
  assert.equal(stored?.subject, keyedSubject(new Subjects(), queue, partitionOf(key, PARTITIONS), "hold"));
  assert.equal(stored?.header.get(Header.Key), key);

  // Its partition's owner holds it behind the blocker: in flight, not started.
  await waitFor(async () => (await queueJson(queue)).keyed?.inFlight === 2, "the retried job to be held");
  const startsOf = (id: string) => runs.filter((r) => r.id === id && r.phase === "start").length;
  assert.equal(startsOf(dead), 1, "the retried job does not start while its key's blocker runs");
  release(blocker);
  await waitFor(() => runs.some((r) => r.id === dead && r.phase === "end"), "the retried job to run");
  const order = runs.filter((r) => r.id === dead || r.id === blocker).map((r) => `${r.id}:${r.phase}`);
  assert.deepEqual(order, [
    `${dead}:start`,
    `${dead}:fail`,
    `${blocker}:start`,
    `${blocker}:end`,
    `${dead}:start`,
    `${dead}:end`,
  ]);
});
