// Results (acceptance 5): a job enqueued with `result: true` has its return value, its final
// failure, its progress and its state kept in the results bucket; client.result() waits for them
// with a KV watch and times out cleanly; jobs that did not ask write nothing there.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { after, before, test } from "node:test";
import { Kvm } from "@nats-io/kv";
import {
  type ControlCommand,
  ControlKey,
  controlBucket,
  defineJob,
  JobFailedError,
  jobKey,
  MAX_RESULT_BYTES,
  ResultTimeoutError,
  ResultUnavailableError,
  resultsBucket,
  Subjects,
  Worker,
} from "../../runtime/index.ts";
import { type MeshBundle, setupMesh, uniqueName, waitFor } from "../support/harness.ts";

class InvoiceRejectedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InvoiceRejectedError";
  }
}

/** Lets the test hold a running job at a step and release it. */
const gates = new Map<string, () => void>();
function gate(id: string): Promise<void> {
  return new Promise((resolve) => gates.set(id, resolve));
}

const jobs = [
  defineJob<{ n: number }>({ name: "double", run: ({ n }) => ({ doubled: n * 2 }) }),
  defineJob<{ n: number }>({
    name: "double.later",
    run: async ({ n }) => {
      await new Promise((resolve) => setImmediate(resolve));
      return n * 2;
    },
  }),
  defineJob({ name: "nothing", run: () => undefined }),
  defineJob<{ reason: string }>({
    name: "reject.invoice",
    run: ({ reason }) => {
      throw new InvoiceRejectedError(reason);
    },
  }),
  defineJob<{ bytes: number }>({ name: "huge", run: ({ bytes }) => "x".repeat(bytes) }),
  defineJob({
    name: "steps",
    run: async (_payload, context) => {
      context.progress({ step: 1, of: 2 });
      await gate(context.id);
      context.progress({ step: 2, of: 2 });
      return "all steps done";
    },
  }),
];

let mesh: MeshBundle;
let worker: Worker;
const resultsStream = `KV_${resultsBucket(new Subjects())}`;

before(async () => {
  mesh = await setupMesh({ maxAttempts: 3 });
  worker = await Worker.start({
    connection: { servers: mesh.server.url },
    queues: [mesh.queue],
    jobs,
    concurrency: 8,
  });
});

after(async () => {
  await worker?.close(100);
  await mesh?.close();
});

test("result() returns the handler's value (synchronous and asynchronous handlers)", async (t) => {
  const started = Date.now();
  const sync = await mesh.client.enqueue(mesh.queue, "double", { n: 21 }, { result: true });
  assert.deepEqual(await mesh.client.result(sync.jobId, { timeoutMs: 30_000 }), { doubled: 42 });
  const later = await mesh.client.enqueue(mesh.queue, "double.later", { n: 5 }, { result: true });
  assert.equal(await mesh.client.result(later.jobId, { timeoutMs: 30_000 }), 10);
  // A completed job's state is there to look up afterwards, and result() can be asked again.
  const state = await mesh.client.jobState(sync.jobId);
  assert.equal(state?.state, "completed");
  assert.deepEqual(state?.result, { doubled: 42 });
  assert.equal(state?.queue, mesh.queue);
  assert.equal(state?.attempt, 1);
  assert.deepEqual(await mesh.client.result(sync.jobId), { doubled: 42 });
  // A handler that returns nothing completes with an undefined result.
  const nothing = await mesh.client.enqueue(mesh.queue, "nothing", {}, { result: true });
  assert.equal(await mesh.client.result(nothing.jobId, { timeoutMs: 30_000 }), undefined);
  t.diagnostic(`three enqueue + result round trips: ${Date.now() - started} ms`);
});

test("enqueueAndWait is one request/response round trip", async (t) => {
  const started = Date.now();
  const value = await mesh.client.enqueueAndWait(mesh.queue, "double", { n: 50 }, { waitTimeoutMs: 30_000 });
  assert.deepEqual(value, { doubled: 100 });
  t.diagnostic(`enqueueAndWait: ${Date.now() - started} ms`);
});

test("a dead-lettered job's result() rethrows its error class and message", async () => {
  const { jobId } = await mesh.client.enqueue(
    mesh.queue,
    "reject.invoice",
    { reason: "card expired" },
    { result: true, maxAttempts: 1 },
  );
  const error = await mesh.client.result(jobId, { timeoutMs: 30_000 }).then(
    () => assert.fail("result() resolved for a failed job"),
    (thrown: unknown) => thrown,
  );
  assert.ok(error instanceof JobFailedError, String(error));
  assert.equal(error.errorClass, "InvoiceRejectedError");
  assert.equal(error.errorMessage, "card expired");
  assert.equal(error.reason, "max-attempts");
  assert.equal(error.jobId, jobId);
  const state = await mesh.client.jobState(jobId);
  assert.equal(state?.state, "failed");
  // enqueueAndWait rethrows the same way.
  await assert.rejects(
    mesh.client.enqueueAndWait(mesh.queue, "reject.invoice", { reason: "no funds" }, { maxAttempts: 1 }),
    (thrown: unknown) => thrown instanceof JobFailedError && thrown.errorMessage === "no funds",
  );
});

test("progress is visible through jobState() while the job runs, then the result", async () => {
  const { jobId } = await mesh.client.enqueue(mesh.queue, "steps", {}, { result: true });
  const running = await waitFor(async () => {
    const state = await mesh.client.jobState(jobId);
    return state?.state === "running" && state.progress !== undefined ? state : undefined;
  }, "the job's first progress in its state");
  assert.deepEqual(running.progress, { step: 1, of: 2 });
  await waitFor(() => gates.has(jobId), "the handler at its gate");
  gates.get(jobId)?.();
  assert.equal(await mesh.client.result(jobId, { timeoutMs: 30_000 }), "all steps done");
  const done = await mesh.client.jobState(jobId);
  assert.equal(done?.state, "completed");
  // The last progress of the attempt is kept with its outcome.
  assert.deepEqual(done?.progress, { step: 2, of: 2 });
});

test("a cancelled job's result() rejects as cancelled, with its progress kept", async () => {
  const { jobId } = await mesh.client.enqueue(mesh.queue, "steps", {}, { result: true });
  await waitFor(() => gates.has(jobId), "the handler at its gate");
  const cancel: ControlCommand = { type: "cancel", id: `cancel-${jobId}`, jobId, by: "test", at: Date.now() };
  const kv = await new Kvm(mesh.nc).open(controlBucket("jetmesh"));
  await kv.put(ControlKey.cancelledJob(jobKey(jobId)), JSON.stringify(cancel));
  await mesh.nc.request(`jetmesh.ctl.cancel`, JSON.stringify(cancel), { timeout: 10_000 });
  await assert.rejects(
    mesh.client.result(jobId, { timeoutMs: 30_000 }),
    (thrown: unknown) => thrown instanceof JobFailedError && thrown.reason === "cancelled",
  );
  const state = await mesh.client.jobState(jobId);
  assert.equal(state?.state, "cancelled");
  assert.deepEqual(state?.progress, { step: 1, of: 2 });
});

test("a result over the size limit is not stored: the job completes and result() says why", async () => {
  const { jobId } = await mesh.client.enqueue(
    mesh.queue,
    "huge",
    { bytes: MAX_RESULT_BYTES + 10 },
    { result: true },
  );
  await assert.rejects(
    mesh.client.result(jobId, { timeoutMs: 30_000 }),
    (thrown: unknown) =>
      thrown instanceof ResultUnavailableError && /exceeds the 65536-byte limit/.test(thrown.message),
  );
  const state = await mesh.client.jobState(jobId);
  assert.equal(state?.state, "completed");
  assert.equal(state?.result, undefined);
  // Just under the limit is kept whole.
  const fits = await mesh.client.enqueueAndWait(mesh.queue, "huge", { bytes: MAX_RESULT_BYTES - 100 });
  assert.equal((fits as string).length, MAX_RESULT_BYTES - 100);
});

test("jobs that did not ask for a result write nothing to the results bucket", async () => {
  const before = (await mesh.jsm.streams.info(resultsStream)).state.last_seq;
  const { jobId } = await mesh.client.enqueue(mesh.queue, "steps", {});
  await waitFor(() => gates.has(jobId), "the unflagged job running");
  gates.get(jobId)?.();
  for (let i = 0; i < 20; i++) await mesh.client.enqueue(mesh.queue, "double", { n: i });
  // A flagged job after them: once its result is in, every earlier job's writes would be too.
  await mesh.client.enqueueAndWait(mesh.queue, "double", { n: 1 });
  await waitFor(
    async () => (await mesh.jsm.consumers.info(mesh.stream, "workers")).num_ack_pending === 0,
    "all jobs acknowledged",
  );
  const writes = (await mesh.jsm.streams.info(resultsStream)).state.last_seq - before;
  // Only the flagged job's: running and completed, and waiting unless the worker wrote first.
  assert.ok(writes === 2 || writes === 3, `${writes} writes to the results bucket`);
  assert.equal(await mesh.client.jobState(jobId), undefined);
});

test("result() times out with a clear error while the job waits", async () => {
  const idle = uniqueName("idle");
  await mesh.client.queues.declare(idle);
  const { jobId } = await mesh.client.enqueue(idle, "double", { n: 1 }, { result: true });
  const error = await mesh.client.result(jobId, { timeoutMs: 300 }).then(
    () => assert.fail("result() resolved for a job nobody runs"),
    (thrown: unknown) => thrown,
  );
  assert.ok(error instanceof ResultTimeoutError, String(error));
  assert.equal(error.lastState, "waiting");
  assert.match(error.message, /within 300 ms \(last state: waiting\)/);
  await assert.rejects(mesh.client.result(jobId, { timeoutMs: 0 }), /must be a positive whole number of ms/);
});

test("a process whose result() timed out exits on its own: no watcher or timer is left", async (t) => {
  const idle = uniqueName("idle");
  await mesh.client.queues.declare(idle);
  const child = spawn(process.execPath, ["--import", "tsx", "test/results/timeout-child.ts"], {
    env: { ...process.env, NATS_URL: mesh.server.url, QUEUE: idle },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  const started = Date.now();
  // The child never calls process.exit: it ends only if nothing keeps its event loop alive.
  const exited = once(child, "exit");
  const outcome = await Promise.race([
    exited.then(([code]) => ({ code })),
    new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 60_000).unref()),
  ]);
  if (outcome === undefined) child.kill("SIGKILL");
  assert.ok(outcome !== undefined, `the child did not exit after its result() timed out:\n${output}`);
  assert.equal(outcome.code, 0, output);
  assert.match(output, /ResultTimeoutError waiting/);
  t.diagnostic(`child ran and exited in ${Date.now() - started} ms`);
  // Waiting left no consumer on the server either (nor did any result() of this file).
  assert.equal((await mesh.jsm.streams.info(resultsStream)).state.consumer_count, 0);
});
