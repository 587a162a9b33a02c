// Acceptance: every job completes exactly once across worker processes, and a worker killed
// with jobs in flight loses none of them.
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
  mesh = await setupMesh({ ackWaitMs: 2000 });
});

after(async () => {
  for (const worker of workers) await worker.kill();
  await mesh.close();
});

test("1,000 jobs are each completed exactly once by two worker processes sharing a queue", async () => {
  const env = { JETMESH_QUEUES: mesh.queue, JETMESH_CONCURRENCY: "16" };
  const [first, second] = await Promise.all([
    WorkerProcess.start(mesh.server.url, env),
    WorkerProcess.start(mesh.server.url, env),
  ]);
  workers.push(first!, second!);
  const jobs = Array.from({ length: 1000 }, (_, i) => ({
    queue: mesh.queue,
    name: "record",
    payload: { i },
  }));
  const results = await mesh.client.enqueueMany(jobs);
  assert.equal(new Set(results.map((r) => r.jobId)).size, 1000);

  const ledger = await waitFor(async () => {
    const entries = await readLedger(mesh.nc);
    return entries.length >= 1000 ? entries : undefined;
  }, "1,000 ledger entries");
  await waitFor(async () => (await streamMessages(mesh.jsm, mesh.stream)) === 0, "the queue to empty");

  const runs = new Map<string, number>();
  for (const entry of ledger) runs.set(entry.jobId, (runs.get(entry.jobId) ?? 0) + 1);
  assert.equal(runs.size, 1000, "every job ran");
  assert.deepEqual(
    [...runs.values()].filter((count) => count > 1),
    [],
    "no job ran twice",
  );
  assert.deepEqual(new Set(results.map((r) => r.jobId)), new Set(runs.keys()));
  const pids = new Set(ledger.map((entry) => entry.pid));
  assert.equal(pids.size, 2, "both workers took part");

  await Promise.all([first!.kill("SIGTERM"), second!.kill("SIGTERM")]);
});

test("kill -9 of a worker holding in-flight jobs: all of them complete on another worker", async () => {
  const events = collectEvents(mesh.nc, mesh.queue);
  const env = { JETMESH_QUEUES: mesh.queue, JETMESH_CONCURRENCY: "5" };
  const doomed = await WorkerProcess.start(mesh.server.url, env);
  workers.push(doomed);
  const results = await mesh.client.enqueueMany(
    Array.from({ length: 5 }, () => ({ queue: mesh.queue, name: "slow", payload: { ms: 60_000 } })),
  );
  const ids = new Set(results.map((r) => r.jobId));
  await waitFor(
    () => events.filter((e) => e.type === "started" && ids.has(e.jobId)).length === 5,
    "5 jobs started",
  );
  await doomed.kill("SIGKILL");

  // The same messages are redelivered after the ack wait; the survivor caps the sleep so they finish.
  const survivor = await WorkerProcess.start(mesh.server.url, { ...env, FIXTURE_SLOW_CAP_MS: "200" });
  workers.push(survivor);
  const ledger = await waitFor(
    async () => {
      const entries = (await readLedger(mesh.nc)).filter((entry) => ids.has(entry.jobId));
      return entries.length >= 5 ? entries : undefined;
    },
    "the 5 jobs to complete on the survivor",
    60_000,
  );
  assert.deepEqual(new Set(ledger.map((entry) => entry.pid)), new Set([survivor.pid]));
  assert.ok(
    ledger.every((entry) => entry.attempt === 2),
    "the redelivery is the second attempt",
  );
  await waitFor(async () => (await streamMessages(mesh.jsm, mesh.stream)) === 0, "the queue to empty");
});
