// Dead letters through the API: list and show, retry by error class (same job id, history kept,
// attempt 1 again), purge by filter, and job lookup of dead and completed jobs.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Kvm } from "@nats-io/kv";
import type {
  ControlPlane,
  DeadLetterDetail,
  DeadLetterPurgeResult,
  DeadLetterRetryResult,
  DeadLetterSummary,
  JobLookup,
} from "../../control-plane/index.ts";
import { attemptsBucket, Subjects } from "../../runtime/index.ts";
import { type MeshBundle, setupMesh, uniqueName, waitFor } from "../support/harness.ts";
import { call, callError, publishDeadLetter, startControlPlane } from "./support.ts";

let mesh: MeshBundle;
let cp: ControlPlane;

before(async () => {
  mesh = await setupMesh();
  cp = await startControlPlane(mesh.server.url);
});

after(async () => {
  await cp.stop();
  await mesh.close();
});

async function list(filter: Record<string, unknown>): Promise<DeadLetterSummary[]> {
  return (await call(cp, "dlq.list", { ...filter, limit: 1000 })).deadLetters;
}

test("ten dead jobs of two error classes: list by class, show one, retry exactly one class", async () => {
  const queue = uniqueName("pay");
  await mesh.client.queues.declare(queue);
  const ids = { timeout: [] as string[], declined: [] as string[] };
  for (let i = 0; i < 10; i++) {
    const timeout = i % 2 === 0;
    const jobId = `${queue}-job-${i}`;
    (timeout ? ids.timeout : ids.declined).push(jobId);
    await publishDeadLetter(mesh.nc, {
      queue,
      name: "charge.card",
      jobId,
      errorClass: timeout ? "JobTimeoutError" : "CardDeclinedError",
      payload: { amount: i },
    });
  }
  // Attempt history of one job, as the worker keeps it: a retry must not lose it.
  const attempts = await new Kvm(mesh.nc).open(attemptsBucket(new Subjects()));
  await attempts.put(
    ids.timeout[0]!,
    JSON.stringify([
      { attempt: 1, at: 1, kind: "timeout", errorClass: "JobTimeoutError", message: "slow", workerId: "w-1" },
    ]),
  );

  assert.equal((await list({ queue })).length, 10);
  const timeouts = await list({ queue, errorClass: "JobTimeoutError" });
  assert.deepEqual(
    timeouts.map((d) => d.jobId),
    ids.timeout,
  );
  assert.equal(timeouts[0]?.name, "charge.card");
  assert.equal(timeouts[0]?.reason, "max-attempts");

  const detail = await call<DeadLetterDetail>(cp, "dlq.get", { seq: timeouts[0]!.seq });
  assert.deepEqual(detail.payload, { amount: 0 });
  assert.match(detail.stack ?? "", /\n {4}at handler/, "the stack is unescaped");
  assert.equal(detail.history[0]?.errorClass, "JobTimeoutError");
  assert.equal(detail.originalSubject, `jetmesh.q.${queue}.charge.card`);
  assert.equal(
    (await call<DeadLetterDetail>(cp, "dlq.get", { jobId: ids.declined[0] })).errorClass,
    "CardDeclinedError",
  );
  assert.equal((await call<JobLookup>(cp, "jobs.get", { jobId: ids.declined[0] })).state, "dead");

  const dry = await call<DeadLetterRetryResult>(cp, "dlq.retry", {
    queue,
    errorClass: "JobTimeoutError",
    dryRun: true,
  });
  assert.equal(dry.matched, 5);
  assert.equal((await list({ queue })).length, 10, "a dry run changes nothing");

  const retried = await call<DeadLetterRetryResult>(cp, "dlq.retry", {
    queue,
    errorClass: "JobTimeoutError",
  });
  assert.equal(retried.retried.length, 5);
  assert.deepEqual(retried.failed, []);
  assert.deepEqual(
    (await list({ queue })).map((d) => d.errorClass),
    Array(5).fill("CardDeclinedError"),
    "exactly the other class is left",
  );
  // Back in the queue with the same job ids, original headers, no failure headers, attempt 1.
  const stream = `jetmesh_q_${queue}`;
  assert.equal((await mesh.jsm.streams.info(stream)).state.messages, 5);
  for (const entry of retried.retried) {
    const msg = await mesh.jsm.streams.getMessage(stream, { seq: entry.sequence });
    assert.ok(msg !== null);
    assert.equal(msg.subject, `jetmesh.q.${queue}.charge.card`);
    assert.equal(msg.header.get("Jetmesh-Job-Id"), entry.jobId);
    assert.equal(msg.header.get("Nats-Msg-Id"), `${entry.jobId}:retry:${entry.seq}`);
    assert.equal(msg.header.get("traceparent"), "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    assert.equal(msg.header.get("Jetmesh-Max-Attempts"), "3");
    for (const dropped of [
      "Jetmesh-Attempt",
      "Jetmesh-Error-Class",
      "Jetmesh-Dead-Reason",
      "Jetmesh-Failed-At",
      "Jetmesh-Attempt-History",
    ])
      assert.equal(msg.header.get(dropped), "", `${dropped} is dropped`);
    assert.ok(Number(msg.header.get("Jetmesh-Enqueued-At")) > Date.now() - 10_000, "enqueued anew");
  }
  const lookup = await call<JobLookup>(cp, "jobs.get", { jobId: ids.timeout[0] });
  assert.equal(lookup.state, "retrying", "back in its queue with earlier failed attempts");
  assert.equal(lookup.attempts[0]?.message, "slow", "the attempt history is kept");

  assert.equal((await callError(cp, "dlq.retry", {})).code, "FILTER_REQUIRED");
  assert.equal((await callError(cp, "dlq.get", { seq: 999_999 })).code, "DEAD_LETTER_NOT_FOUND");
  assert.equal((await callError(cp, "dlq.list", { name: "x" })).code, "INVALID_REQUEST");
});

test("retry to a queue whose stream is gone keeps the dead letter and says why", async () => {
  const queue = uniqueName("gone");
  const seq = await publishDeadLetter(mesh.nc, { queue, name: "x", jobId: `${queue}-1`, errorClass: "E" });
  const result = await call<DeadLetterRetryResult>(cp, "dlq.retry", { seqs: [seq] });
  assert.equal(result.retried.length, 0);
  assert.match(result.failed[0]?.error ?? "", /no stream/);
  assert.equal((await list({ queue })).length, 1);
});

test("purge by filter: subject-only filters purge in one request; finer ones one by one; all needs --all", async () => {
  const queue = uniqueName("purge");
  const old = Date.now() - 3_600_000;
  for (let i = 0; i < 6; i++)
    await publishDeadLetter(mesh.nc, {
      queue,
      name: i < 3 ? "a" : "b",
      jobId: `${queue}-${i}`,
      errorClass: i % 2 === 0 ? "X" : "Y",
      failedAt: i === 0 ? old : Date.now(),
    });
  const byTime = await call<DeadLetterPurgeResult>(cp, "dlq.purge", { queue, until: Date.now() - 60_000 });
  assert.deepEqual([byTime.matched, byTime.purged], [1, 1]);
  const byName = await call<DeadLetterPurgeResult>(cp, "dlq.purge", { queue, name: "b", dryRun: true });
  assert.deepEqual([byName.matched, byName.purged], [3, 0]);
  assert.equal((await call<DeadLetterPurgeResult>(cp, "dlq.purge", { queue, name: "b" })).purged, 3);
  assert.deepEqual(
    (await list({ queue })).map((d) => d.jobId),
    [`${queue}-1`, `${queue}-2`],
  );
  assert.equal((await callError(cp, "dlq.purge", {})).code, "FILTER_REQUIRED");
  const all = await call<DeadLetterPurgeResult>(cp, "dlq.purge", { all: true });
  assert.ok(all.purged >= 2);
  assert.deepEqual(await list({}), []);
});

test("completed jobs are found from the recent-outcomes record", async () => {
  const event = {
    type: "completed",
    jobId: "done-1",
    queue: mesh.queue,
    name: "record",
    attempt: 2,
    workerId: "w-9",
    at: Date.now(),
    durationMs: 12,
  };
  mesh.nc.publish(`jetmesh.evt.${mesh.queue}.completed`, JSON.stringify(event));
  const lookup = await waitFor(async () => {
    const reply = await cp.call("jobs.get", { jobId: "done-1" });
    return reply.ok ? (reply.data as JobLookup) : undefined;
  }, "the completed job to be recorded");
  assert.equal(lookup.state, "completed");
  assert.equal(lookup.completedAt, event.at);
  assert.equal(lookup.durationMs, 12);
  assert.equal(lookup.workerId, "w-9");
});
