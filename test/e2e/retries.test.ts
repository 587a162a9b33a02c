// Acceptance: retries with growing delays, dead-lettering after the last attempt, leases kept
// alive for long handlers, and timeouts aborting handlers through their signal.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Header, Worker } from "../../runtime/index.ts";
import { closeFixtures, jobs as fixtureJobs } from "../fixtures/handlers.ts";
import {
  collectEvents,
  deadLetters,
  type MeshBundle,
  readLedger,
  setupMesh,
  waitFor,
} from "../support/harness.ts";

let mesh: MeshBundle;
let worker: Worker;

before(async () => {
  mesh = await setupMesh({ ackWaitMs: 1000, maxAttempts: 3 });
  process.env.NATS_URL = mesh.server.url;
  worker = await Worker.start({
    connection: mesh.nc,
    queues: [mesh.queue],
    jobs: fixtureJobs,
    concurrency: 8,
  });
});

after(async () => {
  await worker.close();
  await closeFixtures();
  await mesh.close();
});

async function runsOf(jobId: string, count: number, timeoutMs = 30_000) {
  return waitFor(
    async () => {
      const runs = (await readLedger(mesh.nc)).filter((entry) => entry.jobId === jobId);
      return runs.length >= count ? runs : undefined;
    },
    `${count} runs of job ${jobId}`,
    timeoutMs,
  );
}

test("a job failing twice then succeeding runs three times with growing delays", async () => {
  const events = collectEvents(mesh.nc, mesh.queue);
  const { jobId } = await mesh.client.enqueue(mesh.queue, "flaky", { failUntil: 3 });
  const runs = await runsOf(jobId, 3);
  await waitFor(() => events.some((e) => e.jobId === jobId && e.type === "completed"), "the completed event");
  assert.deepEqual(
    runs.map((run) => run.attempt),
    [1, 2, 3],
  );
  // Backoff 500 ms then 1,000 ms (no jitter): each gap is at least its delay.
  const firstGap = runs[1]!.at - runs[0]!.at;
  const secondGap = runs[2]!.at - runs[1]!.at;
  assert.ok(firstGap >= 480, `first retry waited ${firstGap} ms`);
  assert.ok(secondGap >= 980, `second retry waited ${secondGap} ms`);
  const retrying = events.filter((e) => e.jobId === jobId && e.type === "retrying").map((e) => e.retryInMs);
  assert.deepEqual(retrying, [500, 1000]);
});

test("a job that always fails ends in the dead-letter stream after its max attempts, with its errors", async () => {
  const { jobId } = await mesh.client.enqueue(mesh.queue, "always.fail", { errorClass: "ValidationError" });
  await runsOf(jobId, 3);
  const letter = await waitFor(
    async () => (await deadLetters(mesh.jsm)).find((l) => l.header(Header.JobId) === jobId),
    "the dead letter",
  );
  assert.equal(letter.subject, `jetmesh.dlq.${mesh.queue}.always.fail`);
  assert.equal(letter.header(Header.DeadReason), "max-attempts");
  assert.equal(letter.header(Header.ErrorClass), "ValidationError");
  assert.match(letter.header(Header.ErrorMessage), /always fails/);
  assert.match(letter.header(Header.ErrorStack), /ValidationError/);
  assert.equal(letter.header(Header.Attempts), "3");
  const history = JSON.parse(letter.header(Header.AttemptHistory)) as {
    attempt: number;
    errorClass: string;
  }[];
  assert.deepEqual(
    history.map((h) => [h.attempt, h.errorClass]),
    [
      [1, "ValidationError"],
      [2, "ValidationError"],
      [3, "ValidationError"],
    ],
  );
  const runs = (await readLedger(mesh.nc)).filter((entry) => entry.jobId === jobId);
  assert.equal(runs.length, 3, "no run after the last attempt");
});

test("a permanent failure is dead-lettered at once", async () => {
  const { jobId } = await mesh.client.enqueue(mesh.queue, "declined", {});
  const letter = await waitFor(
    async () => (await deadLetters(mesh.jsm)).find((l) => l.header(Header.JobId) === jobId),
    "the dead letter",
  );
  assert.equal(letter.header(Header.DeadReason), "permanent");
  assert.equal((await readLedger(mesh.nc)).filter((entry) => entry.jobId === jobId).length, 1);
});

test("a handler running longer than the ack wait is not redelivered while it runs", async () => {
  const events = collectEvents(mesh.nc, mesh.queue);
  const { jobId } = await mesh.client.enqueue(mesh.queue, "slow", { ms: 3500 });
  await waitFor(
    () => events.some((e) => e.jobId === jobId && e.type === "completed"),
    "the slow job to complete",
    30_000,
  );
  const started = events.filter((e) => e.jobId === jobId && e.type === "started");
  assert.equal(started.length, 1, "started once, though it ran for 3.5 ack waits");
  assert.equal((await readLedger(mesh.nc)).filter((entry) => entry.jobId === jobId).length, 1);
});

test("a handler exceeding its timeout is aborted through its signal and counted as failed", async () => {
  const { jobId } = await mesh.client.enqueue(mesh.queue, "hang", {}, { timeoutMs: 300, maxAttempts: 1 });
  const [run] = await runsOf(jobId, 1);
  assert.equal(run!.note, "aborted: JobTimeoutError");
  const letter = await waitFor(
    async () => (await deadLetters(mesh.jsm)).find((l) => l.header(Header.JobId) === jobId),
    "the dead letter",
  );
  assert.equal(letter.header(Header.ErrorClass), "JobTimeoutError");
  assert.equal(letter.header(Header.DeadReason), "max-attempts");
});

test("a run whose lease expired (blocked event loop) is not acknowledged; the redelivery completes the job", async () => {
  const events = collectEvents(mesh.nc, mesh.queue);
  const { jobId } = await mesh.client.enqueue(mesh.queue, "block.loop", { ms: 1600 });
  await waitFor(() => events.some((e) => e.jobId === jobId && e.type === "completed"), "the job to complete");
  const failed = events.filter((e) => e.jobId === jobId && e.type === "failed");
  assert.ok(
    failed.some((e) => e.error?.kind === "lease-lost"),
    "the stale run was detected",
  );
  const completed = events.filter((e) => e.jobId === jobId && e.type === "completed");
  assert.equal(completed.length, 1);
  assert.ok(completed[0]!.attempt >= 2, "the completing run is a redelivery");
});
