// Acceptance: SIGTERM drains a worker: running jobs finish, the process exits 0, nothing is
// lost; jobs still running when the grace period ends are handed back without using an attempt.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import {
  collectEvents,
  type MeshBundle,
  readLedger,
  setupMesh,
  streamMessages,
  WorkerProcess,
  waitFor,
} from "../support/harness.ts";

let mesh: MeshBundle;
const workers: WorkerProcess[] = [];

before(async () => {
  mesh = await setupMesh({ ackWaitMs: 30_000 });
});

after(async () => {
  for (const worker of workers) await worker.kill();
  await mesh.close();
});

test("SIGTERM during work: in-flight jobs finish, the process exits 0, nothing is lost", async () => {
  const events = collectEvents(mesh.nc, mesh.queue);
  const worker = await WorkerProcess.start(mesh.server.url, {
    JETMESH_QUEUES: mesh.queue,
    JETMESH_CONCURRENCY: "3",
  });
  workers.push(worker);
  const results = await mesh.client.enqueueMany(
    Array.from({ length: 8 }, () => ({ queue: mesh.queue, name: "slow", payload: { ms: 1500 } })),
  );
  const ids = new Set(results.map((r) => r.jobId));
  await waitFor(() => events.filter((e) => e.type === "started").length === 3, "three jobs running");
  worker.child.kill("SIGTERM");
  const exit = await worker.exited;
  assert.deepEqual(exit, { code: 0, signal: null });

  const finished = (await readLedger(mesh.nc)).filter((e) => ids.has(e.jobId));
  assert.equal(finished.length, 3, "the three running jobs finished before exit");
  assert.equal(await streamMessages(mesh.jsm, mesh.stream), 5, "the other five wait in the queue");

  const next = await WorkerProcess.start(mesh.server.url, {
    JETMESH_QUEUES: mesh.queue,
    JETMESH_CONCURRENCY: "8",
  });
  workers.push(next);
  await waitFor(
    async () => (await readLedger(mesh.nc)).filter((e) => ids.has(e.jobId)).length === 8,
    "all eight jobs",
  );
  const runs = (await readLedger(mesh.nc)).filter((e) => ids.has(e.jobId));
  assert.equal(new Set(runs.map((e) => e.jobId)).size, 8, "each job ran exactly once");
  assert.ok(runs.every((e) => e.attempt === 1));
  await next.kill("SIGTERM");
});

test("jobs still running when the grace period ends are handed back without using an attempt", async () => {
  const events = collectEvents(mesh.nc, mesh.queue);
  const worker = await WorkerProcess.start(mesh.server.url, {
    JETMESH_QUEUES: mesh.queue,
    JETMESH_CONCURRENCY: "2",
    JETMESH_SHUTDOWN_GRACE_MS: "300",
  });
  workers.push(worker);
  const results = await mesh.client.enqueueMany(
    Array.from({ length: 2 }, () => ({ queue: mesh.queue, name: "slow", payload: { ms: 60_000 } })),
  );
  const ids = new Set(results.map((r) => r.jobId));
  await waitFor(
    () => events.filter((e) => e.type === "started" && ids.has(e.jobId)).length === 2,
    "both jobs running",
  );
  worker.child.kill("SIGTERM");
  assert.deepEqual(await worker.exited, { code: 0, signal: null });
  assert.equal(await streamMessages(mesh.jsm, mesh.stream), 2, "both jobs are back in the queue at once");

  const next = await WorkerProcess.start(mesh.server.url, {
    JETMESH_QUEUES: mesh.queue,
    JETMESH_CONCURRENCY: "2",
    FIXTURE_SLOW_CAP_MS: "100",
  });
  workers.push(next);
  const runs = await waitFor(async () => {
    const found = (await readLedger(mesh.nc)).filter((e) => ids.has(e.jobId));
    return found.length === 2 ? found : undefined;
  }, "both jobs to complete on the next worker");
  assert.deepEqual(
    runs.map((e) => e.attempt),
    [1, 1],
    "the interrupted run did not use up an attempt",
  );
  await next.kill("SIGTERM");
});
