// Live status from heartbeats and JetStream: alive/late/gone, jobs of gone workers, queue facts
// and rates, and two replicas that agree.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { jetstream } from "@nats-io/jetstream";
import type {
  ControlPlane,
  FleetStatus,
  QueueDetail,
  QueueView,
  WorkerView,
} from "../../control-plane/index.ts";
import { Worker } from "../../runtime/index.ts";
import { closeFixtures, jobs as fixtureJobs } from "../fixtures/handlers.ts";
import { type MeshBundle, setupMesh, uniqueName, waitFor } from "../support/harness.ts";
import {
  call,
  callError,
  heartbeat,
  publishDeadLetter,
  quietLogger,
  SimulatedWorker,
  startControlPlane,
} from "./support.ts";

let mesh: MeshBundle;
let cp: ControlPlane;
const workers: SimulatedWorker[] = [];

before(async () => {
  mesh = await setupMesh();
  cp = await startControlPlane(mesh.server.url);
});

after(async () => {
  for (const worker of workers) worker.stop();
  await cp.stop();
  await closeFixtures();
  await mesh.close();
});

test("a worker is alive while it beats, late after 1.5 intervals, gone after 3; a gone worker's jobs await redelivery", async () => {
  const id = uniqueName("w");
  const worker = new SimulatedWorker(mesh.nc, id, [mesh.queue]);
  worker.jobs = [
    { jobId: "job-on-vanishing-worker", queue: mesh.queue, name: "slow", attempt: 1, startedAt: Date.now() },
  ];
  workers.push(worker.start());
  const liveness = async () =>
    (await call<WorkerView[]>(cp, "workers.list", { includeGone: true })).find((w) => w.workerId === id)
      ?.liveness;
  await waitFor(async () => (await liveness()) === "alive", "the worker to be alive");
  const running = await call(cp, "jobs.running", { queue: mesh.queue });
  assert.equal(running.jobs.find((j: any) => j.jobId === "job-on-vanishing-worker")?.state, "running");

  worker.stop();
  // The states follow the silence the service measured, whatever the machine's speed.
  const view = async () =>
    (await call<WorkerView[]>(cp, "workers.list", { includeGone: true })).find((w) => w.workerId === id);
  const late = await waitFor(
    async () => {
      const seen = await view();
      return seen?.liveness === "late" ? seen : undefined;
    },
    "the worker to be late",
    30_000,
    20,
  );
  assert.ok(late.lastSeenAgoMs >= 1.5 * 200, `late after ${late.lastSeenAgoMs} ms of silence`);
  const gone = await waitFor(
    async () => {
      const seen = await view();
      return seen?.liveness === "gone" ? seen : undefined;
    },
    "the worker to be gone",
    30_000,
    20,
  );
  assert.ok(gone.lastSeenAgoMs >= 3 * 200, `gone after ${gone.lastSeenAgoMs} ms of silence`);

  const status = await call<FleetStatus>(cp, "status");
  assert.ok(status.workers.gone >= 1);
  const jobs = await call(cp, "jobs.running", {});
  assert.equal(
    jobs.jobs.find((j: any) => j.jobId === "job-on-vanishing-worker")?.state,
    "awaiting-redelivery",
  );
  assert.ok(status.jobs.awaitingRedelivery >= 1);
  // Gone workers are hidden unless asked for.
  assert.equal(
    (await call<WorkerView[]>(cp, "workers.list")).some((w) => w.workerId === id),
    false,
  );
  const lookup = await callError(cp, "jobs.get", { jobId: "job-on-vanishing-worker" });
  assert.equal(lookup.code, "JOB_NOT_FOUND");
});

test("a worker that stops cleanly is gone at once, not after three silent intervals", async () => {
  // An interval far longer than the wait below: only the final "stopped" heartbeat can make it gone.
  const worker = await Worker.start({
    connection: { servers: mesh.server.url },
    queues: [mesh.queue],
    jobs: fixtureJobs,
    heartbeatIntervalMs: 600_000,
    logger: quietLogger,
  });
  const view = async () =>
    (await call<WorkerView[]>(cp, "workers.list", { includeGone: true })).find(
      (w) => w.workerId === worker.id,
    );
  await waitFor(async () => (await view())?.liveness === "alive", "the worker to be alive");
  await worker.close();
  const gone = await waitFor(async () => {
    const seen = await view();
    return seen?.liveness === "gone" ? seen : undefined;
  }, "the stopped worker to be gone");
  assert.equal(gone.state, "stopped");
});

test("malformed heartbeats are ignored", async () => {
  mesh.nc.publish("jetmesh.hb.bad", "not json");
  mesh.nc.publish("jetmesh.hb.bad2", JSON.stringify({ workerId: "bad2" }));
  const good = uniqueName("w");
  mesh.nc.publish(`jetmesh.hb.${good}`, JSON.stringify(heartbeat(good, { intervalMs: 60_000 })));
  await waitFor(
    async () => (await call<WorkerView[]>(cp, "workers.list")).some((w) => w.workerId === good),
    "the good heartbeat",
  );
  const ids = (await call<WorkerView[]>(cp, "workers.list", { includeGone: true })).map((w) => w.workerId);
  assert.equal(ids.includes("bad") || ids.includes("bad2"), false);
});

test("queue facts come from JetStream: backlog, pending, in flight, dead, oldest job, rates", async (t) => {
  const queue = uniqueName("stats");
  await mesh.client.queues.declare(queue, { concurrency: 7 });
  const first = await mesh.client.enqueue(queue, "record", { n: 0 });
  for (let i = 1; i < 10; i++) await mesh.client.enqueue(queue, "record", { n: i });
  await publishDeadLetter(mesh.nc, { queue, name: "record", jobId: "dead-1", errorClass: "TypeError" });
  await publishDeadLetter(mesh.nc, { queue, name: "record", jobId: "dead-2", errorClass: "TypeError" });

  // Take three jobs without acknowledging them: they are in flight.
  const consumer = await jetstream(mesh.nc).consumers.get(`jetmesh_q_${queue}`, "workers");
  const held = [];
  for await (const msg of await consumer.fetch({ max_messages: 3, expires: 2000 })) {
    held.push(msg);
    if (held.length === 3) break;
  }
  const view = await waitFor(async () => {
    const q = await call<QueueDetail>(cp, "queues.get", { queue });
    return q.inFlight === 3 ? q : undefined;
  }, "three jobs in flight");
  assert.equal(view.backlog, 10);
  assert.equal(view.pending, 7);
  assert.equal(view.dead, 2);
  assert.equal(view.maxInFlight, 7);
  assert.ok(view.oldestJobAt !== null && view.oldestJobAt <= Date.now());
  const oldest = await mesh.jsm.streams.getMessage(`jetmesh_q_${queue}`, { seq: first.sequence });
  assert.equal(view.oldestJobAt, Number(oldest?.header.get("Jetmesh-Enqueued-At")));

  // Enqueue at a steady pace: the queue grows, then processing drains it. A replica with a short
  // rate window sees the turn quickly.
  const fast = await startControlPlane(mesh.server.url, { rateWindowMs: 1500, sampleIntervalMs: 100 });
  t.after(() => fast.stop());
  await waitFor(
    async () => {
      await mesh.client.enqueue(queue, "record", {});
      const rates = (await call<QueueDetail>(fast, "queues.get", { queue })).rates;
      return rates !== null && rates.enqueuedPerSec > 0 && rates.growthPerSec > 0;
    },
    "a positive enqueue and growth rate",
    10_000,
    100,
  );
  for (const msg of held) msg.ack();
  const draining = await waitFor(
    async () => {
      for await (const msg of await consumer.fetch({ max_messages: 2, expires: 1000 })) msg.ack();
      const q = await call<QueueDetail>(fast, "queues.get", { queue });
      return q.rates !== null && q.rates.growthPerSec < 0 && q.backlog > 0 ? q : undefined;
    },
    "the queue to drain",
    10_000,
    100,
  );
  assert.ok((draining.rates?.processedPerSec ?? 0) > 0);
  assert.ok((draining.rates?.timeToEmptyMs ?? 0) > 0, "a time-to-empty estimate while draining");

  const status = await call<FleetStatus>(cp, "status");
  assert.ok(status.queues.some((q) => q.queue === queue));
  assert.ok(status.deadLetters >= 2);
});

test("an unknown queue is an error that lists the known ones", async () => {
  const error = await callError(cp, "queues.get", { queue: "no_such_queue" });
  assert.equal(error.code, "UNKNOWN_QUEUE");
  assert.match(error.hint ?? "", new RegExp(mesh.queue));
  assert.equal((await callError(cp, "queues.get", {})).code, "INVALID_REQUEST");
  assert.equal((await callError(cp, "no.such.endpoint")).code, "UNKNOWN_ENDPOINT");
});

test("two replicas agree on status and commands, and share API requests", async () => {
  const id = uniqueName("w");
  const worker = new SimulatedWorker(mesh.nc, id, [mesh.queue], { intervalMs: 200 });
  workers.push(worker.start());
  await waitFor(
    async () => (await call<WorkerView[]>(cp, "workers.list")).some((w) => w.workerId === id),
    "replica 1 to see the worker",
  );
  // A replica started now knows the fleet at once, from the heartbeat stream.
  const second = await startControlPlane(mesh.server.url, { replicaId: "replica-2" });
  try {
    const fromSecond = await call<WorkerView[]>(second, "workers.list");
    assert.ok(fromSecond.some((w) => w.workerId === id && w.liveness === "alive"));

    // A command through one replica is seen through the other.
    const paused = await call(second, "queues.pause", { queue: mesh.queue, by: "test", reason: "agreement" });
    assert.deepEqual(paused.missing, []);
    assert.ok(paused.acks.some((a: any) => a.workerId === id && a.result === "paused"));
    const viaFirst = (await call<QueueView[]>(cp, "queues.list")).find((q) => q.queue === mesh.queue);
    const viaSecond = (await call<QueueView[]>(second, "queues.list")).find((q) => q.queue === mesh.queue);
    assert.equal(viaFirst?.pause.paused, true);
    assert.deepEqual(viaFirst?.pause, viaSecond?.pause);
    assert.equal(viaFirst?.pause.record?.reason, "agreement");

    const [a, b] = await Promise.all([call<FleetStatus>(cp, "status"), call<FleetStatus>(second, "status")]);
    assert.deepEqual(a.workers, b.workers);
    assert.deepEqual(
      a.queues.map((q) => [q.queue, q.backlog, q.dead, q.pause.paused]),
      b.queues.map((q) => [q.queue, q.backlog, q.dead, q.pause.paused]),
    );
    await call(cp, "queues.resume", { queue: mesh.queue });
    assert.equal((await call<QueueDetail>(second, "queues.get", { queue: mesh.queue })).pause.paused, false);

    // Over NATS, requests are spread over both replicas by the queue group.
    const { ControlPlaneClient } = await import("../../control-plane/index.ts");
    const api = new ControlPlaneClient(mesh.nc);
    const seen = new Set<string>();
    await waitFor(
      async () => {
        seen.add((await api.request("ping")).replicaId);
        return seen.size === 2;
      },
      "both replicas to answer pings",
      10_000,
      1,
    );
    assert.ok(seen.has("replica-2") && seen.has(cp.replicaId));
  } finally {
    await second.stop();
  }
});
