// The control plane's /metrics: per-queue pending, in flight, redelivered, dead letters, oldest
// waiting age and growth from JetStream, and per-worker liveness, heartbeat age, running jobs
// and capacity from heartbeats.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { jetstream } from "@nats-io/jetstream";
import type { ControlPlane } from "../../control-plane/index.ts";
import { publishDeadLetter, SimulatedWorker, startControlPlane } from "../control-plane/support.ts";
import { type MeshBundle, setupMesh, uniqueName, waitFor } from "../support/harness.ts";
import { type MetricSample, sampleSum, scrape } from "./scrape.ts";

let mesh: MeshBundle;
let cp: ControlPlane;
let metricsUrl: string;

before(async () => {
  mesh = await setupMesh({ ackWaitMs: 60_000 });
  cp = await startControlPlane(mesh.server.url, { httpPort: 0, httpHost: "127.0.0.1", rateWindowMs: 60_000 });
  metricsUrl = `http://127.0.0.1:${cp.httpPort}/metrics`;
});

after(async () => {
  await cp?.stop();
  await mesh?.close();
});

/** Scrapes until `check` accepts the samples (the figures follow the sampling tick). */
function scrapeUntil(check: (samples: MetricSample[]) => boolean, what: string): Promise<MetricSample[]> {
  return waitFor(async () => {
    const samples = await scrape(metricsUrl);
    return check(samples) ? samples : undefined;
  }, what);
}

test("queue figures: pending, in flight, redelivered, dead letters, oldest waiting age, growth", async () => {
  const queue = mesh.queue;
  const enqueuedAt = Date.now();
  const enqueue = (count: number) =>
    mesh.client.enqueueMany(
      Array.from({ length: count }, (_, i) => ({ queue, name: "record", payload: { i } })),
    );
  await enqueue(2);
  // Stream and consumer are read one after the other: wait for a sample where both saw the jobs.
  const both = (s: MetricSample[], count: number) =>
    sampleSum(s, "jetmesh_queue_pending", { queue }) === count &&
    sampleSum(s, "jetmesh_queue_backlog", { queue }) === count;
  await scrapeUntil((s) => both(s, 2), "two pending jobs");
  await enqueue(3);
  const grown = await scrapeUntil(
    (s) => both(s, 5) && (sampleSum(s, "jetmesh_queue_pending_growth_rate", { queue }) ?? 0) > 0,
    "five pending jobs, growing",
  );
  assert.equal(sampleSum(grown, "jetmesh_queue_in_flight", { queue }), 0);
  assert.equal(sampleSum(grown, "jetmesh_queue_enqueued_total", { queue }), 5);
  assert.equal(sampleSum(grown, "jetmesh_queue_max_in_flight", { queue }), 1000);
  const age = sampleSum(grown, "jetmesh_queue_oldest_waiting_age_seconds", { queue }) ?? -1;
  assert.ok(age > 0 && age <= (Date.now() - enqueuedAt) / 1000 + 1, `oldest waiting age ${age}`);

  // Two jobs taken from the queue's consumer and held, one of them handed back for redelivery:
  // the oldest job still waiting is then the third one.
  const consumer = await jetstream(mesh.nc).consumers.get(mesh.stream, "workers");
  const batch = await consumer.fetch({ max_messages: 2, expires: 5_000 });
  const taken = [];
  for await (const message of batch) taken.push(message);
  assert.equal(taken.length, 2);
  taken[0]?.nak();
  const held = await scrapeUntil(
    (s) =>
      sampleSum(s, "jetmesh_queue_pending", { queue }) === 3 &&
      sampleSum(s, "jetmesh_queue_in_flight", { queue }) === 2 &&
      sampleSum(s, "jetmesh_queue_redelivered", { queue }) === 0,
    "three pending and two in flight",
  );
  assert.equal(sampleSum(held, "jetmesh_queue_backlog", { queue }), 5);
  const redelivered = await consumer.fetch({ max_messages: 1, expires: 5_000 });
  for await (const message of redelivered) taken.push(message);
  await scrapeUntil((s) => sampleSum(s, "jetmesh_queue_redelivered", { queue }) === 1, "one redelivered job");

  await publishDeadLetter(mesh.nc, {
    queue,
    name: "record",
    jobId: uniqueName("dead"),
    errorClass: "TypeError",
  });
  await scrapeUntil((s) => sampleSum(s, "jetmesh_queue_dead_letters", { queue }) === 1, "one dead letter");

  for (const message of taken) message.ack();
});

test("fleet figures: workers by liveness, heartbeat age per worker, running jobs and capacity", async () => {
  const id = uniqueName("w");
  const worker = new SimulatedWorker(mesh.nc, id, [mesh.queue]).start();
  worker.jobs = [{ jobId: "j-1", queue: mesh.queue, name: "slow", attempt: 1, startedAt: Date.now() }];
  try {
    const alive = await scrapeUntil(
      (s) => sampleSum(s, "jetmesh_fleet_heartbeat_age_seconds", { worker_id: id }) !== undefined,
      "the worker's heartbeat age",
    );
    assert.ok((sampleSum(alive, "jetmesh_fleet_workers", { liveness: "alive" }) ?? 0) >= 1);
    assert.equal(sampleSum(alive, "jetmesh_fleet_capacity", { queue: mesh.queue }), 4);
  } finally {
    worker.stop();
  }
  const gone = await scrapeUntil(
    (s) =>
      sampleSum(s, "jetmesh_fleet_workers", { liveness: "gone" }) === 1 &&
      sampleSum(s, "jetmesh_fleet_capacity", { queue: mesh.queue }) === 0,
    "the worker to be gone",
  );
  assert.ok((sampleSum(gone, "jetmesh_fleet_heartbeat_age_seconds", { worker_id: id }) ?? 0) > 0.6);
  assert.equal(sampleSum(gone, "jetmesh_fleet_jobs_running", { queue: mesh.queue }), 0);
  assert.ok(sampleSum(gone, "process_resident_memory_bytes") !== undefined, "process metrics");
});
