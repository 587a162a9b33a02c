// Commands through the API: each is recorded in the control bucket before it is broadcast,
// reports who acknowledged it and who did not, and is visible to lookups and status.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Kvm } from "@nats-io/kv";
import type { CommandResult, ControlPlane, JobLookup, QueueDetail } from "../../control-plane/index.ts";
import { controlBucket, jobKey } from "../../runtime/index.ts";
import { type MeshBundle, setupMesh, uniqueName, waitFor } from "../support/harness.ts";
import { call, callError, SimulatedWorker, startControlPlane } from "./support.ts";

let mesh: MeshBundle;
let cp: ControlPlane;
let a: SimulatedWorker;
let b: SimulatedWorker;
let silent: SimulatedWorker;

before(async () => {
  mesh = await setupMesh();
  cp = await startControlPlane(mesh.server.url);
  a = new SimulatedWorker(mesh.nc, uniqueName("wa"), [mesh.queue]).start();
  b = new SimulatedWorker(mesh.nc, uniqueName("wb"), [mesh.queue, "other"]).start();
  // Beats but never answers commands: a worker whose control listener is stuck.
  silent = new SimulatedWorker(mesh.nc, uniqueName("ws"), [mesh.queue], { answers: false }).start();
  await waitFor(async () => (await call(cp, "workers.list")).length === 3, "three live workers");
});

after(async () => {
  for (const worker of [a, b, silent]) worker.stop();
  await cp.stop();
  await mesh.close();
});

async function controlKv() {
  return new Kvm(mesh.nc).open(controlBucket("jetmesh"));
}

test("pause is recorded before it is broadcast, acknowledged by live workers, and names the silent one", async () => {
  const result = await call<CommandResult>(cp, "queues.pause", {
    queue: mesh.queue,
    by: "ops",
    reason: "incident 42",
  });
  assert.equal(result.command.type, "pause");
  assert.equal(result.acknowledged, 2);
  assert.deepEqual(
    result.acks.map((ack) => ack.result),
    ["paused", "paused"],
  );
  assert.deepEqual(result.missing, [silent.id]);
  assert.deepEqual([...result.expected].sort(), [a.id, b.id, silent.id].sort());
  for (const worker of [a, b]) {
    const seen = worker.commands.find((c) => c.command.id === result.command.id);
    assert.equal(seen?.recordedFirst, true, "the record existed when the broadcast arrived");
  }
  const entry = await (await controlKv()).get(`paused.${mesh.queue}`);
  assert.equal(entry?.json<{ by: string; reason: string }>().reason, "incident 42");
  const view = await call<QueueDetail>(cp, "queues.get", { queue: mesh.queue });
  assert.equal(view.pause.paused, true);
  assert.equal(view.pause.record?.by, "ops");
  await waitFor(
    async () => (await call<QueueDetail>(cp, "queues.get", { queue: mesh.queue })).workers.paused === 2,
    "paused workers in heartbeats",
  );
});

test("pause on one worker, then a fleet-wide resume lifts every pause of the queue", async () => {
  const one = await call<CommandResult>(cp, "queues.pause", { queue: mesh.queue, workerId: a.id });
  assert.deepEqual(
    one.acks.map((ack) => ack.workerId),
    [a.id],
    "only the addressed worker answers",
  );
  let view = await call<QueueDetail>(cp, "queues.get", { queue: mesh.queue });
  assert.deepEqual(
    view.pause.pausedOnWorkers.map((p) => p.workerId),
    [a.id],
  );

  const onlyA = await call<CommandResult>(cp, "queues.resume", { queue: mesh.queue, workerId: a.id });
  assert.match(onlyA.warnings.join(" "), /also paused fleet-wide/);
  await call(cp, "queues.pause", { queue: mesh.queue, workerId: a.id });

  const resumed = await call<CommandResult>(cp, "queues.resume", { queue: mesh.queue });
  assert.equal(resumed.acknowledged, 2);
  for (const worker of [a, b]) {
    assert.equal(worker.commands.find((c) => c.command.id === resumed.command.id)?.recordedFirst, true);
  }
  view = await call<QueueDetail>(cp, "queues.get", { queue: mesh.queue });
  assert.equal(view.pause.paused, false);
  assert.deepEqual(view.pause.pausedOnWorkers, []);
});

test("pause of an unknown queue fails and lists the known queues", async () => {
  const error = await callError(cp, "queues.pause", { queue: "nope" });
  assert.equal(error.code, "UNKNOWN_QUEUE");
  assert.match(error.hint ?? "", new RegExp(mesh.queue));
  assert.equal((await callError(cp, "queues.pause", { queue: "a.b" })).code, "INVALID_REQUEST");
  assert.equal(
    (await callError(cp, "queues.pause", { queue: mesh.queue, timeoutMs: 0 })).code,
    "INVALID_REQUEST",
  );
});

test("cancel records who/when/why; the worker running the job aborts it; lookup says cancelled", async () => {
  b.jobs = [
    { jobId: "order/17", queue: mesh.queue, name: "charge", attempt: 2, startedAt: Date.now() - 5000 },
  ];
  b.beat();
  await waitFor(
    async () => (await call<JobLookup>(cp, "jobs.get", { jobId: "order/17" })).state === "running",
    "the job to run",
  );
  const running = await call<JobLookup>(cp, "jobs.get", { jobId: "order/17" });
  assert.equal(running.workerId, b.id);
  assert.equal(running.attempt, 2);

  const result = await call<CommandResult>(cp, "jobs.cancel", {
    jobId: "order/17",
    by: "ann",
    reason: "duplicate",
  });
  assert.deepEqual(
    result.acks.map((ack) => [ack.workerId, ack.result]).sort(),
    [
      [a.id, "not running here"],
      [b.id, "aborted the running job"],
    ].sort(),
  );
  const record = await (await controlKv()).get(`cancelled.${jobKey("order/17")}`);
  assert.equal(record?.json<{ reason: string }>().reason, "duplicate");
  const lookup = await call<JobLookup>(cp, "jobs.get", { jobId: "order/17" });
  assert.equal(lookup.state, "cancelled");
  assert.equal(lookup.cancelled?.by, "ann");
  assert.equal(lookup.cancelled?.reason, "duplicate");
  b.jobs = [];
});

test("cancel of a waiting job: lookup says cancelled and still in its queue", async () => {
  const { jobId } = await mesh.client.enqueue(mesh.queue, "record", {});
  assert.equal((await call<JobLookup>(cp, "jobs.get", { jobId })).state, "waiting");
  const result = await call<CommandResult>(cp, "jobs.cancel", { jobId });
  assert.match(result.warnings.join(" "), /not running/);
  const lookup = await call<JobLookup>(cp, "jobs.get", { jobId });
  assert.equal(lookup.state, "cancelled");
  assert.equal(lookup.queue, mesh.queue);
  assert.match(lookup.notes.join(" "), /still in its queue/);
});

test("drain reaches one worker; its record is cleared once the worker is gone", async () => {
  const doomed = new SimulatedWorker(mesh.nc, uniqueName("wd"), [mesh.queue]).start();
  await waitFor(
    async () => (await call(cp, "workers.list")).some((w: any) => w.workerId === doomed.id),
    "the worker",
  );
  const result = await call<CommandResult>(cp, "workers.drain", { workerId: doomed.id });
  assert.deepEqual(
    result.acks.map((ack) => [ack.workerId, ack.result]),
    [[doomed.id, "draining"]],
  );
  const kv = await controlKv();
  assert.equal((await kv.get(`drain.${doomed.id}`))?.operation, "PUT");
  doomed.stop();
  await waitFor(
    async () => {
      const entry = await kv.get(`drain.${doomed.id}`);
      return entry === null || entry.operation !== "PUT";
    },
    "the drain record to be cleared after the worker is gone",
    10_000,
  );

  const unknown = await call<CommandResult>(cp, "workers.drain", { workerId: "never-seen" });
  assert.equal(unknown.acknowledged, 0);
  assert.match(unknown.warnings.join(" "), /not live/);
});

test("enqueue through the API; a job id makes it idempotent", async () => {
  const jobId = uniqueName("job");
  const first = await call(cp, "jobs.enqueue", {
    queue: mesh.queue,
    name: "email.send",
    payload: { to: "a@b.c" },
    jobId,
  });
  assert.equal(first.duplicate, false);
  const again = await call(cp, "jobs.enqueue", {
    queue: mesh.queue,
    name: "email.send",
    payload: { to: "a@b.c" },
    jobId,
  });
  assert.equal(again.duplicate, true);
  const waiting = await call(cp, "jobs.waiting", { queue: mesh.queue, limit: 100 });
  assert.equal(waiting.jobs.filter((j: any) => j.jobId === jobId).length, 1);
  assert.equal(waiting.jobs.find((j: any) => j.jobId === jobId)?.name, "email.send");
  assert.equal(
    (await callError(cp, "jobs.enqueue", { queue: "missing_q", name: "x" })).code,
    "UNKNOWN_QUEUE",
  );
  assert.equal(
    (await callError(cp, "jobs.enqueue", { queue: mesh.queue, name: "bad name" })).code,
    "INVALID_REQUEST",
  );
});
