// Acceptance: a job that kills every worker running it stops after its attempts (MaxDeliver and
// the attempt count), ending in the dead-letter stream with the reason; and a worker holds no
// more jobs than it can run.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Header } from "../../runtime/index.ts";
import {
  collectEvents,
  deadLetters,
  type MeshBundle,
  readLedger,
  setupMesh,
  uniqueName,
  WorkerProcess,
  waitFor,
} from "../support/harness.ts";

let mesh: MeshBundle;
const workers: WorkerProcess[] = [];

before(async () => {
  mesh = await setupMesh({ ackWaitMs: 1000, maxAttempts: 2 });
});

after(async () => {
  for (const worker of workers) await worker.kill();
  await mesh.close();
});

test("a job that crashes its worker every time ends in the dead-letter stream after its attempts", async () => {
  const { jobId } = await mesh.client.enqueue(mesh.queue, "crash.process", {});
  const env = { JETMESH_QUEUES: mesh.queue, JETMESH_CONCURRENCY: "1" };
  // Each worker dies on the poison job; keep replacing it, as a container orchestrator would.
  const letter = await waitFor(
    async () => {
      const found = (await deadLetters(mesh.jsm)).find((l) => l.header(Header.JobId) === jobId);
      if (found) return found;
      const last = workers.at(-1);
      if (last === undefined || last.child.exitCode !== null)
        workers.push(await WorkerProcess.start(mesh.server.url, env));
      return undefined;
    },
    "the poison job to be dead-lettered",
    60_000,
    250,
  );
  assert.equal(letter.header(Header.DeadReason), "attempts-exhausted");
  assert.equal(letter.header(Header.Attempts), "2");
  assert.match(letter.header(Header.ErrorMessage), /without an outcome/);
  const runs = (await readLedger(mesh.nc)).filter((e) => e.jobId === jobId);
  assert.deepEqual(
    runs.map((run) => run.attempt),
    [1, 2],
    "it ran exactly its two attempts",
  );
  const crashed = workers.filter((worker) => worker.child.exitCode === 3).length;
  assert.equal(crashed, 2, "it took down one worker per attempt, no more");
});

test("a worker holds no more jobs than its concurrency, however many wait", async () => {
  // A queue of its own: a crashed worker's pull request can hold a job of the first queue for an ack wait.
  const queue = uniqueName();
  const { stream } = await mesh.client.queues.declare(queue);
  const events = collectEvents(mesh.nc, queue);
  const worker = await WorkerProcess.start(mesh.server.url, {
    JETMESH_QUEUES: queue,
    JETMESH_CONCURRENCY: "3",
  });
  workers.push(worker);
  const results = await mesh.client.enqueueMany(
    Array.from({ length: 12 }, () => ({ queue, name: "slow", payload: { ms: 1500 } })),
  );
  const ids = new Set(results.map((r) => r.jobId));
  await waitFor(
    () => events.filter((e) => e.type === "started" && ids.has(e.jobId)).length >= 3,
    "three jobs running",
  );
  const info = await mesh.jsm.consumers.info(stream, "workers");
  assert.equal(info.num_ack_pending, 3, "only the running jobs are held");
  assert.equal(info.num_pending, 9, "the rest wait on the server, available to other workers");
  await worker.kill("SIGTERM");
});
