// Opt-in prefetch: a worker holds its running jobs plus `prefetch` more, starts a buffered job as
// soon as a slot frees, hands buffered jobs back (without charging an attempt) when the queue is
// paused, and still completes every job exactly once.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { defineJob, type LifecycleEvent, Worker } from "../../runtime/index.ts";
import { collectEvents, type MeshBundle, setupMesh, waitFor } from "../support/harness.ts";

let mesh: MeshBundle;
let worker: Worker | undefined;
/** Releases the handler of each waiting job, in the order they started. */
const releases: (() => void)[] = [];

before(async () => {
  mesh = await setupMesh();
});

after(async () => {
  for (const release of releases) release();
  await worker?.close();
  await mesh.close();
});

test("with prefetch 1 a worker of concurrency 1 holds two jobs; pause hands the buffered one back", async () => {
  const events = collectEvents(mesh.nc, mesh.queue);
  worker = await Worker.start({
    connection: mesh.nc,
    queues: [mesh.queue],
    jobs: [defineJob({ name: "waits", run: () => new Promise<void>((resolve) => releases.push(resolve)) })],
    concurrency: 1,
    prefetch: 1,
  });
  const ids = (
    await mesh.client.enqueueMany(
      Array.from({ length: 3 }, () => ({ queue: mesh.queue, name: "waits", payload: {} })),
    )
  ).map((result) => result.jobId);
  const consumer = () => mesh.jsm.consumers.info(mesh.stream, "workers");
  await waitFor(() => releases.length === 1, "the first job to start");
  await waitFor(async () => (await consumer()).num_ack_pending === 2, "one job running and one buffered");
  assert.equal((await consumer()).num_pending, 1, "the third waits on the server");

  worker.pause();
  await waitFor(async () => (await consumer()).num_ack_pending === 1, "the buffered job handed back");
  worker.resume();
  const started = (jobId: string) => events.filter((e) => e.jobId === jobId && e.type === "started");
  const finished = (e: LifecycleEvent) => e.type === "completed" && ids.includes(e.jobId);
  for (let done = 1; done <= 3; done++) {
    await waitFor(() => releases.length >= done, `job ${done} to start`);
    releases[done - 1]?.();
    await waitFor(() => events.filter(finished).length === done, `job ${done} to complete`);
  }
  for (const jobId of ids) {
    assert.equal(started(jobId).length, 1, "each job ran once");
    assert.equal(started(jobId)[0]?.attempt, 1, "a handed-back job is not charged an attempt");
  }
  await waitFor(async () => (await consumer()).num_ack_pending === 0, "nothing held");
});

test("prefetch must be a non-negative integer", async () => {
  await assert.rejects(
    Worker.start({ connection: mesh.nc, queues: [mesh.queue], jobs: [], prefetch: -1 }),
    /prefetch must be "auto" or a non-negative integer/,
  );
});
