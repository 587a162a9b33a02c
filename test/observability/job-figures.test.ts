// Acceptance: after succeeding, failing and slow jobs run on a real worker process, the worker's
// /metrics and the control plane's /metrics show the right counts and histogram totals, and
// `jetmesh stats --json` (a subprocess, through the control plane's API) shows matching counts,
// percentiles and error classes — and a second control plane replica answers the same.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { ControlPlane, QueueJobStats, StatsReport } from "../../control-plane/index.ts";
import { freePort } from "../../deploy/local/nats-server.ts";
import { call, parseJson, runCli, startControlPlane } from "../control-plane/support.ts";
import { collectEvents, type MeshBundle, setupMesh, WorkerProcess, waitFor } from "../support/harness.ts";
import { type MetricSample, sampleSum, scrape } from "./scrape.ts";

const SLOW_MS = 400;

let mesh: MeshBundle;
let worker: WorkerProcess;
let cp: ControlPlane;
let secondReplica: ControlPlane;
let workerMetrics: MetricSample[];
let cpMetrics: MetricSample[];

before(async () => {
  mesh = await setupMesh({ maxAttempts: 2 });
  const { queue } = mesh;
  cp = await startControlPlane(mesh.server.url, { httpPort: 0, httpHost: "127.0.0.1" });
  secondReplica = await startControlPlane(mesh.server.url, { replicaId: "second" });
  const metricsPort = await freePort();
  worker = await WorkerProcess.start(mesh.server.url, {
    JETMESH_QUEUES: queue,
    JETMESH_CONCURRENCY: "8",
    JETMESH_METRICS_PORT: String(metricsPort),
    JETMESH_METRICS_HOST: "127.0.0.1",
    JETMESH_HEARTBEAT_INTERVAL_MS: "500",
  });
  const events = collectEvents(mesh.nc, queue);
  await mesh.client.enqueueMany([
    ...Array.from({ length: 10 }, (_, i) => ({ queue, name: "record", payload: { i } })),
    ...Array.from({ length: 4 }, () => ({ queue, name: "slow", payload: { ms: SLOW_MS } })),
    { queue, name: "flaky", payload: { failUntil: 2 } },
    { queue, name: "always.fail", payload: { errorClass: "CardDeclinedError" } },
    { queue, name: "always.fail", payload: { errorClass: "CardDeclinedError" } },
    { queue, name: "always.fail", payload: { errorClass: "GatewayTimeoutError" } },
  ]);
  await waitFor(
    () =>
      events.filter((e) => e.type === "completed").length === 15 &&
      events.filter((e) => e.type === "dead").length === 3,
    "every job to end",
  );
  const workerUrl = `http://127.0.0.1:${metricsPort}/metrics`;
  workerMetrics = await waitFor(async () => {
    const samples = await scrape(workerUrl);
    return sampleSum(samples, "jetmesh_jobs_total", { queue, outcome: "dead" }) === 3 ? samples : undefined;
  }, "the worker's metrics to count the dead jobs");
  const cpUrl = `http://127.0.0.1:${cp.httpPort}/metrics`;
  cpMetrics = await waitFor(async () => {
    const samples = await scrape(cpUrl);
    return sampleSum(samples, "jetmesh_queue_dead_letters", { queue }) === 3 &&
      sampleSum(samples, "jetmesh_queue_pending", { queue }) === 0 &&
      sampleSum(samples, "jetmesh_queue_in_flight", { queue }) === 0
      ? samples
      : undefined;
  }, "the control plane to see the queue empty and three dead letters");
});

after(async () => {
  await worker?.kill("SIGTERM");
  await cp?.stop();
  await secondReplica?.stop();
  await mesh?.close();
});

test("the worker's /metrics counts every outcome, failure class and histogram observation", () => {
  const { queue } = mesh;
  const total = (outcome: string, name?: string) =>
    sampleSum(workerMetrics, "jetmesh_jobs_total", { queue, outcome, ...(name ? { name } : {}) });
  assert.equal(total("completed"), 15);
  assert.equal(total("failed"), 7);
  assert.equal(total("retried"), 4);
  assert.equal(total("dead"), 3);
  assert.equal(total("started"), 22);
  const failures = (error_class: string) =>
    sampleSum(workerMetrics, "jetmesh_job_failures_total", { queue, error_class });
  assert.equal(failures("CardDeclinedError"), 4);
  assert.equal(failures("GatewayTimeoutError"), 2);
  assert.equal(failures("Error"), 1);
  // Every first attempt observed its wait; every ended attempt its duration.
  assert.equal(sampleSum(workerMetrics, "jetmesh_job_wait_seconds_count", { queue }), 18);
  assert.equal(sampleSum(workerMetrics, "jetmesh_job_duration_seconds_count", { queue }), 22);
  const slow = { queue, name: "slow", outcome: "completed" };
  assert.equal(sampleSum(workerMetrics, "jetmesh_job_duration_seconds_count", slow), 4);
  assert.ok(
    (sampleSum(workerMetrics, "jetmesh_job_duration_seconds_sum", slow) ?? 0) >= (4 * SLOW_MS) / 1000,
  );
  // The slow jobs slept at least 0.4 s: none is in a bucket below that, all are in +Inf.
  assert.equal(sampleSum(workerMetrics, "jetmesh_job_duration_seconds_bucket", { ...slow, le: "0.25" }), 0);
  assert.equal(sampleSum(workerMetrics, "jetmesh_job_duration_seconds_bucket", { ...slow, le: "+Inf" }), 4);
});

test("the control plane's /metrics shows the dead letters, an empty queue and the live worker", () => {
  const { queue } = mesh;
  assert.equal(sampleSum(cpMetrics, "jetmesh_queue_dead_letters", { queue }), 3);
  assert.equal(sampleSum(cpMetrics, "jetmesh_queue_oldest_waiting_age_seconds", { queue }), 0);
  assert.equal(sampleSum(cpMetrics, "jetmesh_queue_enqueued_total", { queue }), 18);
  assert.equal(sampleSum(cpMetrics, "jetmesh_fleet_workers", { liveness: "alive" }), 1);
  assert.equal(sampleSum(cpMetrics, "jetmesh_fleet_capacity", { queue }), 8);
});

test("jetmesh stats --json matches the counts, percentiles and error classes", async () => {
  const { queue } = mesh;
  const report = await waitFor(async () => {
    const result = await runCli(["stats", queue, "--json", "-s", mesh.server.url]);
    const parsed = parseJson<StatsReport>(result);
    const stats = parsed.queues?.[0];
    return stats !== undefined && stats.total.completed === 15 && stats.total.dead === 3 ? parsed : undefined;
  }, "stats to count every job");
  assert.equal(report.windowMs, 5 * 60_000);
  assert.equal(report.queues.length, 1);
  const stats = report.queues[0] as QueueJobStats;
  assert.equal(stats.queue, queue);
  assert.equal(stats.pending, 0);
  const { total } = stats;
  assert.deepEqual(
    [total.completed, total.failed, total.retried, total.dead, total.cancelled],
    [15, 7, 4, 3, 0],
  );
  assert.equal(total.errorRate, Math.round((7 / 22) * 10_000) / 10_000);
  assert.equal(total.waitMs?.count, 18);
  assert.equal(total.durationMs?.count, 22);
  assert.deepEqual(total.errorClasses, [
    { errorClass: "CardDeclinedError", count: 4 },
    { errorClass: "GatewayTimeoutError", count: 2 },
    { errorClass: "Error", count: 1 },
  ]);
  const byName = Object.fromEntries(stats.jobs.map((job) => [job.name, job]));
  assert.deepEqual(Object.keys(byName).sort(), ["always.fail", "flaky", "record", "slow"]);
  assert.equal(byName.record?.completed, 10);
  assert.equal(byName["always.fail"]?.errorRate, 1);
  assert.equal(byName.flaky?.retried, 1);

  // The slow jobs' percentiles agree with the worker's histogram: the same four observations,
  // each at least SLOW_MS (within the sketch's 2 %), and the worker's mean within their range.
  const slow = byName.slow?.durationMs;
  assert.equal(slow?.count, 4);
  assert.ok((slow?.p50 ?? 0) >= SLOW_MS * 0.98, `p50 ${slow?.p50}`);
  const labels = { queue, name: "slow", outcome: "completed" };
  const meanMs =
    ((sampleSum(workerMetrics, "jetmesh_job_duration_seconds_sum", labels) ?? 0) /
      (sampleSum(workerMetrics, "jetmesh_job_duration_seconds_count", labels) ?? 1)) *
    1000;
  assert.ok(meanMs <= (slow?.max ?? 0) * 1.02 + 1, `mean ${meanMs} above max ${slow?.max}`);
  assert.ok(meanMs >= (slow?.p50 ?? 0) / 4, `mean ${meanMs} vs p50 ${slow?.p50}`);

  const text = await runCli(["stats", queue, "-s", mesh.server.url]);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, new RegExp(`queue ${queue}: 0 pending`));
  assert.match(text.stdout, /always\.fail\s+0\s+6\s+3\s+3\s+100\.0%/);
  assert.match(text.stdout, /CardDeclinedError 4, GatewayTimeoutError 2/);
});

test("every control plane replica gives the same stats", async () => {
  const figures = async (replica: ControlPlane) => {
    const report = await call<StatsReport>(replica, "stats", { queue: mesh.queue });
    const { pendingGrowthPerSec: _growth, ...queue } = report.queues[0] as QueueJobStats;
    return queue;
  };
  const first = await figures(cp);
  assert.equal(first.total.completed, 15);
  const second = await waitFor(async () => {
    const seen = await figures(secondReplica);
    return seen.total.completed === 15 && seen.total.dead === 3 ? seen : undefined;
  }, "the second replica to count every job");
  assert.deepEqual(second, first);
});

test("stats refuses an unknown queue and a window it cannot cover", async () => {
  const unknown = await runCli(["stats", "nosuchqueue", "-s", mesh.server.url]);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /nosuchqueue/);
  const wide = await runCli(["stats", "--window", "2h", "-s", mesh.server.url]);
  assert.equal(wide.code, 2);
  assert.match(wide.stderr, /the window must be from 10s to 30m/);
  const unreadable = await runCli(["stats", "--window", "soon", "-s", mesh.server.url]);
  assert.equal(unreadable.code, 2);
  assert.match(unreadable.stderr, /cannot read the window "soon"/);
});
