// Acceptance with real worker processes: pause honoured by running and late-joining workers,
// cancel of running and waiting jobs, dead-letter retry by error class, and a worker killed
// with SIGKILL shown as gone within three heartbeat intervals while its job runs elsewhere.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type {
  CommandResult,
  ControlPlane,
  DeadLetterRetryResult,
  JobLookup,
  QueueDetail,
  WorkerView,
} from "../../control-plane/index.ts";
import {
  collectEvents,
  type MeshBundle,
  readLedger,
  setupMesh,
  uniqueName,
  WorkerProcess,
  waitFor,
} from "../support/harness.ts";
import { call, startControlPlane } from "./support.ts";

/** The worker process's heartbeat interval (workers/main.ts has no setting for it yet). */
const HEARTBEAT_INTERVAL_MS = 5000;

let mesh: MeshBundle;
let cp: ControlPlane;
const processes: WorkerProcess[] = [];

async function startWorkers(count: number): Promise<WorkerProcess[]> {
  const started = await Promise.all(
    Array.from({ length: count }, () =>
      WorkerProcess.start(mesh.server.url, { JETMESH_QUEUES: mesh.queue, JETMESH_CONCURRENCY: "2" }),
    ),
  );
  processes.push(...started);
  return started;
}

async function liveWorkers(): Promise<WorkerView[]> {
  return call<WorkerView[]>(cp, "workers.list");
}

before(async () => {
  // A short lease, so a killed worker's job is redelivered within seconds.
  mesh = await setupMesh({ ackWaitMs: 3000 });
  cp = await startControlPlane(mesh.server.url, { commandTimeoutMs: 5000 });
  await startWorkers(3);
  await waitFor(async () => (await liveWorkers()).length === 3, "three workers in the status");
});

after(async () => {
  await Promise.all(processes.map((worker) => worker.kill()));
  await cp.stop();
  await mesh.close();
});

test("pause: no job starts after the acknowledgement, a worker started later stays paused, resume runs them", async () => {
  const events = collectEvents(mesh.nc, mesh.queue);
  const paused = await call<CommandResult>(cp, "queues.pause", { queue: mesh.queue, by: "test" });
  assert.equal(paused.acknowledged, 3);
  assert.deepEqual(paused.missing, []);
  assert.ok(paused.acks.every((ack) => ack.result === "paused"));

  const jobs = await mesh.client.enqueueMany(
    Array.from({ length: 6 }, (_, n) => ({ queue: mesh.queue, name: "record", payload: { n } })),
  );
  const ids = new Set(jobs.map((job) => job.jobId));
  await startWorkers(1);
  await waitFor(async () => {
    const workers = await liveWorkers();
    return workers.length === 4 && workers.every((w) => w.queues[0]?.paused === true);
  }, "all four workers, the late one included, to report the queue paused");
  const view = await call<QueueDetail>(cp, "queues.get", { queue: mesh.queue });
  assert.equal(view.backlog, 6);
  assert.equal(view.workers.paused, 4);
  assert.equal(events.filter((e) => e.type === "started" && ids.has(e.jobId)).length, 0, "nothing started");

  const resumed = await call<CommandResult>(cp, "queues.resume", { queue: mesh.queue });
  assert.equal(resumed.acknowledged, 4);
  await waitFor(
    async () =>
      new Set((await readLedger(mesh.nc)).filter((e) => ids.has(e.jobId)).map((e) => e.jobId)).size === 6,
    "the six jobs to run after resume",
  );
});

test("cancel a running job: its handler sees the abort, it is not retried, lookup says cancelled", async () => {
  const events = collectEvents(mesh.nc, mesh.queue);
  const { jobId } = await mesh.client.enqueue(mesh.queue, "hang", {});
  await waitFor(() => events.some((e) => e.jobId === jobId && e.type === "started"), "the job to start");
  await waitFor(
    async () => (await call<JobLookup>(cp, "jobs.get", { jobId })).state === "running",
    "lookup: running",
  );

  const result = await call<CommandResult>(cp, "jobs.cancel", { jobId, by: "test", reason: "not needed" });
  // The bucket's watch may abort the run before the broadcast arrives (the record is written
  // first), so the worker that ran it may answer "not running here": count answers, not words.
  assert.equal(result.acknowledged, 4);
  assert.deepEqual(result.missing, []);
  const [run] = await waitFor(async () => {
    const runs = (await readLedger(mesh.nc)).filter((e) => e.jobId === jobId);
    return runs.length > 0 ? runs : undefined;
  }, "the handler to see the abort");
  assert.equal(run?.note, "aborted: JobAbortedError");
  await waitFor(() => events.some((e) => e.jobId === jobId && e.type === "cancelled"), "the cancelled event");
  await waitFor(
    async () => (await call<QueueDetail>(cp, "queues.get", { queue: mesh.queue })).backlog === 0,
    "the job to leave the queue",
  );
  assert.equal(events.filter((e) => e.jobId === jobId && e.type === "started").length, 1, "never retried");
  const lookup = await call<JobLookup>(cp, "jobs.get", { jobId });
  assert.equal(lookup.state, "cancelled");
  assert.equal(lookup.cancelled?.reason, "not needed");
});

test("cancel a waiting job: it never runs", async () => {
  const events = collectEvents(mesh.nc, mesh.queue);
  await call(cp, "queues.pause", { queue: mesh.queue });
  const { jobId } = await mesh.client.enqueue(mesh.queue, "record", {});
  await call(cp, "jobs.cancel", { jobId });
  assert.equal((await call<JobLookup>(cp, "jobs.get", { jobId })).state, "cancelled");
  await call(cp, "queues.resume", { queue: mesh.queue });
  await waitFor(() => events.some((e) => e.jobId === jobId && e.type === "cancelled"), "a worker to drop it");
  assert.equal(events.filter((e) => e.jobId === jobId && e.type === "started").length, 0);
  assert.equal((await readLedger(mesh.nc)).filter((e) => e.jobId === jobId).length, 0);
});

test("dead-letter 10 jobs of two error classes; retry by error class re-runs exactly those", async () => {
  const jobs = await mesh.client.enqueueMany(
    Array.from({ length: 10 }, (_, n) => ({
      queue: mesh.queue,
      name: "always.fail",
      payload: { errorClass: n % 2 === 0 ? "AlphaError" : "BetaError" },
      options: { maxAttempts: 1, jobId: uniqueName(n % 2 === 0 ? "alpha" : "beta") },
    })),
  );
  const alpha = jobs.filter((job) => job.jobId.startsWith("alpha")).map((job) => job.jobId);
  const beta = jobs.filter((job) => job.jobId.startsWith("beta")).map((job) => job.jobId);
  const deadCount = async () =>
    (await call(cp, "dlq.list", { queue: mesh.queue, limit: 1000 })).total as number;
  await waitFor(async () => (await deadCount()) === 10, "ten dead letters");

  const retried = await call<DeadLetterRetryResult>(cp, "dlq.retry", {
    queue: mesh.queue,
    errorClass: "AlphaError",
  });
  assert.deepEqual(retried.retried.map((r) => r.jobId).sort(), [...alpha].sort());
  await waitFor(async () => {
    const ledger = await readLedger(mesh.nc);
    return alpha.every((id) => ledger.filter((e) => e.jobId === id).length === 2);
  }, "each retried job to run a second time");
  await waitFor(
    async () => (await deadCount()) === 10,
    "the retried jobs to fail into the dead-letter stream again",
  );
  const ledger = await readLedger(mesh.nc);
  for (const id of beta)
    assert.equal(ledger.filter((e) => e.jobId === id).length, 1, "the other class did not run again");
  for (const id of alpha)
    assert.deepEqual(
      ledger.filter((e) => e.jobId === id).map((e) => e.attempt),
      [1, 1],
    );
});

test("kill -9 a worker: gone within three heartbeat intervals, its job runs elsewhere", async () => {
  const events = collectEvents(mesh.nc, mesh.queue);
  const { jobId } = await mesh.client.enqueue(mesh.queue, "slow", { ms: 2500 });
  const started = await waitFor(
    () => events.find((e) => e.jobId === jobId && e.type === "started"),
    "the job to start",
  );
  const victim = (await liveWorkers()).find((w) => w.workerId === started.workerId);
  const child = processes.find((p) => p.pid === victim?.pid);
  assert.ok(victim !== undefined && child !== undefined, "the worker running the job is one of ours");
  await child.kill("SIGKILL");

  // Gone means: no heartbeat for three intervals (the service's rule, checked on what it reports;
  // no wall-clock bound here, the machine may be slow).
  const gone = await waitFor(
    async () =>
      (await call<WorkerView[]>(cp, "workers.list", { includeGone: true })).find(
        (w) => w.workerId === victim.workerId && w.liveness === "gone",
      ),
    "the killed worker to be gone",
    60_000,
    100,
  );
  assert.ok(
    gone.lastSeenAgoMs >= 3 * HEARTBEAT_INTERVAL_MS,
    `gone after ${gone.lastSeenAgoMs} ms of silence`,
  );
  assert.ok((await liveWorkers()).every((w) => w.workerId !== victim.workerId));
  const elsewhere = await waitFor(async () => {
    const runs = (await readLedger(mesh.nc)).filter((e) => e.jobId === jobId);
    return runs.find((e) => e.pid !== child.pid);
  }, "the job to complete on another worker");
  assert.notEqual(elsewhere.pid, child.pid);
});
