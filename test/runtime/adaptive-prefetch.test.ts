// The default prefetch ("auto") holds one job beyond the free slots of a worker whose jobs are
// short, and none once its jobs are long: a job must not wait in one worker's buffer behind a
// long job while another worker could run it.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { defineJob, Worker } from "../../runtime/index.ts";
import { type MeshBundle, setupMesh, uniqueName, waitFor } from "../support/harness.ts";

let mesh: MeshBundle;
const workers: Worker[] = [];
/** Releases of the blocking jobs that have started, by job id. */
const releases = new Map<string, () => void>();
const started: string[] = [];

const jobs = [
  defineJob({ name: "quick", run: () => {} }),
  defineJob({ name: "slow", run: () => new Promise<void>((resolve) => setTimeout(resolve, 25)) }),
  defineJob({
    name: "blocks",
    run: (_payload, ctx) => {
      started.push(ctx.id);
      return new Promise<void>((resolve) => releases.set(ctx.id, resolve));
    },
  }),
];

before(async () => {
  mesh = await setupMesh();
});

after(async () => {
  for (const release of releases.values()) release();
  await Promise.all(workers.map((worker) => worker.close()));
  await mesh.close();
});

async function queueWithWorker(): Promise<{ queue: string; stream: string; worker: Worker }> {
  const queue = uniqueName("prefetch");
  const { stream } = await mesh.client.queues.declare(queue);
  const worker = await Worker.start({ connection: mesh.nc, queues: [queue], jobs, concurrency: 1 });
  workers.push(worker);
  return { queue, stream, worker };
}

async function runAll(queue: string, name: string, count: number): Promise<void> {
  const { stream } = await mesh.client.queues.settings(queue);
  await mesh.client.enqueueMany(Array.from({ length: count }, () => ({ queue, name })));
  await waitFor(async () => {
    const info = await mesh.jsm.consumers.info(stream, "workers");
    return info.num_pending === 0 && info.num_ack_pending === 0;
  }, `${count} ${name} jobs to complete`);
}

test("after short jobs, a worker holds the next job while its slot is busy", async () => {
  const { queue, stream } = await queueWithWorker();
  await runAll(queue, "quick", 50);
  const [first] = await mesh.client.enqueueMany([
    { queue, name: "blocks" },
    { queue, name: "blocks" },
    { queue, name: "blocks" },
  ]);
  await waitFor(() => started.includes(first?.jobId ?? ""), "the first blocking job to start");
  await waitFor(
    async () => (await mesh.jsm.consumers.info(stream, "workers")).num_ack_pending === 2,
    "one job running and one prefetched",
  );
  assert.equal(
    (await mesh.jsm.consumers.info(stream, "workers")).num_pending,
    1,
    "the third waits on the server",
  );
});

test("after long jobs, the next job stays on the server for another worker", async () => {
  const { queue } = await queueWithWorker();
  await runAll(queue, "slow", 40);
  const [held, next] = await mesh.client.enqueueMany([
    { queue, name: "blocks" },
    { queue, name: "blocks" },
  ]);
  await waitFor(() => started.includes(held?.jobId ?? ""), "the first blocking job to start");
  // With a prefetched copy in the first worker's buffer, this one could not start it until the
  // first job ends, which it never does here.
  workers.push(
    await Worker.start({ connection: mesh.nc, queues: [queue], jobs, concurrency: 1, prefetch: 0 }),
  );
  await waitFor(() => started.includes(next?.jobId ?? ""), "the second job to start in the second worker");
  assert.ok(releases.has(held?.jobId ?? ""), "the first job is still running");
});
