// Acceptance: a nats-server killed and restarted mid-run loses no enqueued job.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { type MeshBundle, readLedger, setupMesh, WorkerProcess, waitFor } from "../support/harness.ts";

let mesh: MeshBundle;
let worker: WorkerProcess | undefined;

before(async () => {
  mesh = await setupMesh({ ackWaitMs: 3000 });
});

after(async () => {
  await worker?.kill();
  await mesh.close();
});

test("kill -9 and restart of the server mid-run: every enqueued job completes", async () => {
  worker = await WorkerProcess.start(mesh.server.url, {
    JETMESH_QUEUES: mesh.queue,
    JETMESH_CONCURRENCY: "4",
  });
  const results = await mesh.client.enqueueMany(
    Array.from({ length: 400 }, () => ({ queue: mesh.queue, name: "slow", payload: { ms: 20 } })),
  );
  const ids = new Set(results.map((r) => r.jobId));
  await waitFor(
    async () => (await readLedger(mesh.nc)).length >= 50,
    "some jobs to complete before the restart",
  );

  await mesh.server.kill("SIGKILL");
  await mesh.server.restart();

  const done = await waitFor(
    async () => {
      const seen = new Set((await readLedger(mesh.nc).catch(() => [])).map((entry) => entry.jobId));
      return [...ids].every((id) => seen.has(id)) ? seen : undefined;
    },
    "every job to complete after the restart",
    90_000,
    250,
  );
  assert.equal([...ids].filter((id) => !done.has(id)).length, 0, "no job lost");
  // Nothing is left to deliver. (The stream itself may keep a few already-acknowledged jobs: 2.9
  // can persist the consumer's ack before the WorkQueue removal when killed; docs/operations.md.)
  await waitFor(
    async () => {
      const info = await mesh.jsm.consumers.info(mesh.stream, "workers");
      return info.num_pending === 0 && info.num_ack_pending === 0;
    },
    "the consumer to have nothing pending",
    60_000,
  );
  assert.equal(worker.child.exitCode, null, "the worker survived the restart");
});
