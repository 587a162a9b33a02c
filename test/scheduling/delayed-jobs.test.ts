// Acceptance (delayed jobs): jobs with mixed due times run in due order and never early, across
// a scheduler crash and takeover; a cancelled delayed job never runs; a retry delay longer than
// the lease waits in the delay store, holding no ack-pending slot, and runs when due.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { jetstream } from "@nats-io/jetstream";
import { headers as natsHeaders } from "@nats-io/transport-node";
import { defineJob, Worker } from "../../runtime/index.ts";
import { call, quietLogger, startControlPlane } from "../control-plane/support.ts";
import {
  collectEvents,
  deadLetters,
  type MeshBundle,
  setupMesh,
  uniqueName,
  waitFor,
} from "../support/harness.ts";

interface Run {
  jobId: string;
  attempt: number;
  at: number;
}

let mesh: MeshBundle;
let worker: Worker;
const runs: Run[] = [];
const failedAt = new Map<string, number>();

before(async () => {
  mesh = await setupMesh({ ackWaitMs: 2000 });
  const record = defineJob({
    name: "record",
    run: (_payload, ctx) => void runs.push({ jobId: ctx.id, attempt: ctx.attempt, at: Date.now() }),
  });
  const failFirst = defineJob({
    name: "fail.first",
    backoff: { type: "fixed", delayMs: 5000 },
    run: (_payload, ctx) => {
      runs.push({ jobId: ctx.id, attempt: ctx.attempt, at: Date.now() });
      if (ctx.attempt === 1) {
        failedAt.set(ctx.id, Date.now());
        throw new Error("first attempt fails");
      }
    },
  });
  worker = await Worker.start({
    connection: mesh.nc,
    queues: [mesh.queue],
    jobs: [record, failFirst],
    concurrency: 1,
    logger: quietLogger,
  });
});

after(async () => {
  await worker.close();
  await mesh.close();
});

test("delayed jobs run in due order, none early, none lost or doubled across a scheduler crash", async () => {
  const first = await startControlPlane(mesh.server.url, { replicaId: "cp-a", schedulerLeaseMs: 1500 });
  const base = Date.now() + 1500;
  // Enqueued out of order; some share a second, the last ones come due while no scheduler runs.
  const offsets = [3200, 400, 1900, 0, 4100, 2600, 300, 5600, 1200, 6300, 4800, 7000];
  const due = new Map<string, number>();
  for (const offset of offsets) {
    const result = await mesh.client.enqueue(mesh.queue, "record", { offset }, { runAt: base + offset });
    assert.equal(result.dueAt, base + offset);
    due.set(result.jobId, base + offset);
  }
  await waitFor(() => runs.length >= 3, "the first delayed jobs to run");
  // A crash: the lease is not released, so the next scheduler must wait it out.
  await first.stop({ release: false });
  const second = await startControlPlane(mesh.server.url, { replicaId: "cp-b", schedulerLeaseMs: 1500 });
  try {
    await waitFor(() => runs.length >= offsets.length, "every delayed job to run", 60_000);
    await waitFor(
      async () => (await mesh.jsm.streams.info("jetmesh_delayed")).state.messages === 0,
      "an empty delay store",
    );
    const ours = runs.filter((run) => due.has(run.jobId));
    assert.equal(new Set(ours.map((run) => run.jobId)).size, offsets.length, "each job ran");
    assert.equal(ours.length, offsets.length, "no job ran twice");
    for (const run of ours)
      assert.ok(run.at >= (due.get(run.jobId) as number), `${run.jobId} ran before its due time`);
    const order = ours.map((run) => due.get(run.jobId) as number);
    assert.deepEqual(
      order,
      [...order].sort((a, b) => a - b),
      "jobs ran in due order",
    );
  } finally {
    await second.stop();
  }
});

test("a cancelled delayed job never runs", async () => {
  const cp = await startControlPlane(mesh.server.url);
  try {
    const events = collectEvents(mesh.nc, mesh.queue);
    const cancelled = await mesh.client.enqueue(mesh.queue, "record", {}, { delay: 1500 });
    const kept = await mesh.client.enqueue(mesh.queue, "record", {}, { delay: 1600 });
    await call(cp, "jobs.cancel", { jobId: cancelled.jobId });
    await waitFor(() => runs.some((run) => run.jobId === kept.jobId), "the other delayed job to run");
    await waitFor(
      () => events.some((event) => event.type === "cancelled" && event.jobId === cancelled.jobId),
      "the cancelled job to be terminated",
    );
    assert.ok(!runs.some((run) => run.jobId === cancelled.jobId), "the cancelled job did not run");
    // Its queue wait counts from its due time, not from its enqueue 1.6 s earlier. The wait rides
    // on its started event, or on completed when the job finished within the turn it started in.
    const timed = await waitFor(
      () => events.find((event) => event.jobId === kept.jobId && event.waitMs !== undefined),
      "the kept job's queue wait",
    );
    const ran = runs.find((run) => run.jobId === kept.jobId) as Run;
    assert.ok((timed.waitMs as number) <= ran.at - (kept.dueAt as number), `waited ${timed.waitMs} ms`);
  } finally {
    await cp.stop();
  }
});

test("a retry delay longer than the lease waits in the delay store without an ack-pending slot", async () => {
  const cp = await startControlPlane(mesh.server.url);
  try {
    const { jobId } = await mesh.client.enqueue(mesh.queue, "fail.first", { id: uniqueName() });
    await waitFor(() => failedAt.has(jobId), "the first attempt to fail");
    // The retry is stored, then the delivery acknowledged: wait for both to show.
    await waitFor(async () => {
      const stored = (await mesh.jsm.streams.info("jetmesh_delayed")).state.messages;
      const consumer = await mesh.jsm.consumers.info(mesh.stream, "workers");
      return stored === 1 && consumer.num_ack_pending === 0;
    }, "the retry in the delay store and no ack-pending slot");
    assert.ok(
      !runs.some((run) => run.jobId === jobId && run.attempt === 2),
      "no ack-pending slot was held while the retry waited",
    );
    assert.equal((await mesh.jsm.streams.info(mesh.stream)).state.messages, 0, "the queue holds nothing");
    const retry = await waitFor(
      () => runs.find((run) => run.jobId === jobId && run.attempt === 2),
      "the second attempt",
      60_000,
    );
    assert.ok(retry.at >= (failedAt.get(jobId) as number) + 5000, "the retry waited its backoff");
    assert.equal(runs.filter((run) => run.jobId === jobId).length, 2, "two attempts in all");
  } finally {
    await cp.stop();
  }
});

test("any NATS client can delay a job: into the delay store, or into its queue with a due time", async () => {
  const cp = await startControlPlane(mesh.server.url);
  try {
    const js = jetstream(mesh.nc);
    const dueAt = Date.now() + 2500;
    const second = Math.floor(dueAt / 1000);
    const stored = natsHeaders();
    stored.set("Jetmesh-Job-Id", "foreign-store-1");
    stored.set("Jetmesh-Due-At", String(dueAt));
    stored.set("Jetmesh-Subject", `jetmesh.q.${mesh.queue}.record`);
    stored.set("Content-Type", "application/json");
    await js.publish(`jetmesh.delayed.${Math.floor(second / 60)}.${second}`, "{}", {
      headers: stored,
      msgID: "foreign-store-1",
    });
    const early = natsHeaders();
    early.set("Jetmesh-Job-Id", "foreign-queue-1");
    early.set("Jetmesh-Due-At", String(dueAt));
    await js.publish(`jetmesh.q.${mesh.queue}.record`, "{}", { headers: early, msgID: "foreign-queue-1" });
    const lost = natsHeaders();
    lost.set("Jetmesh-Job-Id", "foreign-no-target");
    await js.publish(`jetmesh.delayed.${Math.floor(second / 60)}.${second}`, "{}", { headers: lost });
    for (const jobId of ["foreign-store-1", "foreign-queue-1"]) {
      const run = await waitFor(() => runs.find((r) => r.jobId === jobId), `${jobId} to run`);
      assert.ok(run.at >= dueAt, `${jobId} ran no earlier than its due time`);
      assert.equal(run.attempt, 1, "moving an early job back costs no attempt");
    }
    const dead = await waitFor(async () => {
      const letters = await deadLetters(mesh.jsm);
      return letters.find((letter) => letter.header("Jetmesh-Job-Id") === "foreign-no-target");
    }, "the job without a queue subject to be dead-lettered");
    assert.equal(dead.header("Jetmesh-Dead-Reason"), "invalid-subject");
  } finally {
    await cp.stop();
  }
});
