// Lifecycle events on the wire: a job that completes in the event-loop turn it started in is
// reported by `completed` alone (carrying its wait), a job that runs longer by `started` then
// `completed`, and a failure always by `started`, `failed`, then `retrying` or `dead`.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { defineJob, type LifecycleEvent, Worker } from "../../runtime/index.ts";
import { collectEvents, type MeshBundle, setupMesh, waitFor } from "../support/harness.ts";

let mesh: MeshBundle;
let worker: Worker;

before(async () => {
  mesh = await setupMesh({ maxAttempts: 1 });
  worker = await Worker.start({
    connection: mesh.nc,
    queues: [mesh.queue],
    jobs: [
      defineJob({ name: "instant", run: () => {} }),
      defineJob({ name: "waits", run: () => sleep(50) }),
      defineJob({
        name: "throws",
        run: () => {
          throw new Error("refused");
        },
      }),
    ],
    concurrency: 4,
  });
});

after(async () => {
  await worker.close();
  await mesh.close();
});

function typesOf(events: LifecycleEvent[], jobId: string): string[] {
  return events.filter((e) => e.jobId === jobId).map((e) => e.type);
}

test("a job done within its first turn sends `completed` with its wait, and no `started`", async () => {
  const events = collectEvents(mesh.nc, mesh.queue);
  const { jobId } = await mesh.client.enqueue(mesh.queue, "instant", {});
  await waitFor(() => typesOf(events, jobId).includes("completed"), "the job to complete");
  // The worker publishes in order on one connection: once a later job's events are in, a late
  // `started` of the first would be too.
  const later = await mesh.client.enqueue(mesh.queue, "waits", {});
  await waitFor(() => typesOf(events, later.jobId).includes("completed"), "a later job to complete");
  assert.deepEqual(typesOf(events, jobId), ["completed"]);
  const completed = events.find((e) => e.jobId === jobId);
  assert.equal(typeof completed?.waitMs, "number");
  assert.equal(typeof completed?.durationMs, "number");
  assert.equal(completed?.name, "instant");
  assert.equal(completed?.workerId, worker.id);
});

test("a job still running after its first turn sends `started`, then `completed`", async () => {
  const events = collectEvents(mesh.nc, mesh.queue);
  const { jobId } = await mesh.client.enqueue(mesh.queue, "waits", {});
  await waitFor(() => typesOf(events, jobId).includes("completed"), "the job to complete");
  assert.deepEqual(typesOf(events, jobId), ["started", "completed"]);
  const [started, completed] = events.filter((e) => e.jobId === jobId);
  assert.equal(typeof started?.waitMs, "number");
  assert.equal(completed?.waitMs, undefined);
});

test("a failure keeps the whole story: `started`, `failed`, `dead`", async () => {
  const events = collectEvents(mesh.nc, mesh.queue);
  const { jobId } = await mesh.client.enqueue(mesh.queue, "throws", {});
  await waitFor(() => typesOf(events, jobId).includes("dead"), "the job to be dead-lettered");
  assert.deepEqual(typesOf(events, jobId), ["started", "failed", "dead"]);
  assert.equal(events.find((e) => e.type === "failed" && e.jobId === jobId)?.error?.message, "refused");
});
