// Acceptance 2 and 3 against a real worker process: a queue whose handler blocks forever is
// flagged stalled (every slot busy) while a queue under the same load that keeps completing is
// not; a queue nobody serves and a paused queue are flagged with their own cause; and a job
// running far past its name's p99 is flagged while it runs, with its worker and attempt.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { ControlPlane, HealthReport } from "../../control-plane/index.ts";
import { call, runCli, startControlPlane } from "../control-plane/support.ts";
import { scrape } from "../observability/scrape.ts";
import {
  type MeshBundle,
  readLedger,
  setupMesh,
  uniqueName,
  WorkerProcess,
  waitFor,
} from "../support/harness.ts";

let mesh: MeshBundle;
let cp: ControlPlane;
let worker: WorkerProcess;
let blocked: string;
let healthy: string;
let unserved: string;
let timed: string;

before(async () => {
  mesh = await setupMesh();
  blocked = mesh.queue;
  [healthy, unserved, timed] = [uniqueName("healthy"), uniqueName("unserved"), uniqueName("timed")];
  for (const queue of [healthy, unserved, timed]) await mesh.client.queues.declare(queue);
  cp = await startControlPlane(mesh.server.url, {
    httpPort: 0,
    httpHost: "127.0.0.1",
    stallWindowMs: 4000,
    outlierMinSamples: 5,
  });
  worker = await WorkerProcess.start(mesh.server.url, {
    JETMESH_QUEUES: [blocked, healthy, timed].join(","),
    JETMESH_CONCURRENCY: "2",
    JETMESH_HEARTBEAT_INTERVAL_MS: "300",
  });
});

after(async () => {
  await worker.kill();
  await cp.stop();
  await mesh.close();
});

const health = () => call<HealthReport>(cp, "health");
const stallOf = (report: HealthReport, queue: string) => report.stalls.find((s) => s.queue === queue);

test("a blocked queue is flagged stalled with every slot busy; a queue under the same load is not", async () => {
  await mesh.client.enqueueMany(
    Array.from({ length: 4 }, () => ({ queue: blocked, name: "hang", payload: {} })),
  );
  await mesh.client.enqueueMany(
    Array.from({ length: 300 }, () => ({ queue: healthy, name: "slow", payload: { ms: 100 } })),
  );
  await mesh.client.enqueue(unserved, "record", {});

  const report = await waitFor(async () => {
    const r = await health();
    return stallOf(r, blocked) !== undefined && stallOf(r, unserved) !== undefined ? r : undefined;
  }, "the blocked and the unserved queue flagged stalled");
  assert.equal(stallOf(report, blocked)?.cause, "slots-busy");
  assert.match(stallOf(report, blocked)?.detail ?? "", /every slot is busy/);
  assert.equal(stallOf(report, healthy), undefined, "the queue that keeps completing is not stalled");
  const view = await call(cp, "queues.get", { queue: healthy });
  assert.ok(view.backlog > 0, "the healthy queue still had work when the blocked one was flagged");
  assert.equal(stallOf(report, unserved)?.cause, "no-workers");

  const samples = await scrape(`http://127.0.0.1:${cp.httpPort}/metrics`);
  const stalled = (queue: string, cause: string) =>
    samples.find(
      (s) => s.name === "jetmesh_queue_stalled" && s.labels.queue === queue && s.labels.cause === cause,
    )?.value;
  // The metric is refreshed by the sampling tick; the API answer above may be a tick ahead.
  await waitFor(async () => {
    const fresh = await scrape(`http://127.0.0.1:${cp.httpPort}/metrics`);
    return fresh.some(
      (s) =>
        s.name === "jetmesh_queue_stalled" &&
        s.labels.queue === blocked &&
        s.labels.cause === "slots-busy" &&
        s.value === 1,
    );
  }, "jetmesh_queue_stalled for the blocked queue");
  assert.equal(stalled(healthy, "slots-busy"), 0);
  // The backlog trend of the queue that keeps completing: a time to drain, in the API and /metrics.
  await waitFor(
    async () => (await call(cp, "queues.get", { queue: healthy })).rates?.timeToDrainMs > 0,
    "a time to drain for the healthy queue",
  );
  await waitFor(
    async () =>
      (await scrape(`http://127.0.0.1:${cp.httpPort}/metrics`)).some(
        (s) => s.name === "jetmesh_queue_time_to_drain_seconds" && s.labels.queue === healthy && s.value > 0,
      ),
    "jetmesh_queue_time_to_drain_seconds for the healthy queue",
  );
  // The autoscaling signal: a queue with waiting work and no worker asks for one.
  assert.equal(report.scaling.find((s) => s.queue === unserved)?.desiredWorkers, 1);
  const desired = samples.find(
    (s) => s.name === "jetmesh_queue_desired_workers" && s.labels.queue === unserved,
  );
  assert.equal(desired?.value, 1);

  // The web console's overview marks the stalled queue with its cause.
  await waitFor(async () => {
    const response = await fetch(`http://127.0.0.1:${cp.httpPort}/console/api/overview`);
    const body = (await response.json()) as { data: { queues: { queue: string; stalled: string | null }[] } };
    const rows = new Map(body.data.queues.map((row) => [row.queue, row.stalled]));
    return rows.get(blocked) === "slots-busy" && rows.get(healthy) === null;
  }, "the console overview to show the stall");

  const cli = await runCli(["health", "--server", mesh.server.url]);
  assert.equal(cli.code, 0, cli.stderr);
  assert.match(cli.stdout, new RegExp(`${blocked}\\s+slots-busy`));
  assert.match(cli.stdout, new RegExp(`${unserved}\\s+no-workers`));
});

test("a paused queue with work waiting is flagged with the pause as its cause", async () => {
  await call(cp, "queues.pause", { queue: healthy, by: "ops" });
  const report = await waitFor(async () => {
    const r = await health();
    return stallOf(r, healthy) !== undefined ? r : undefined;
  }, "the paused queue flagged stalled");
  assert.equal(stallOf(report, healthy)?.cause, "paused");
  assert.match(stallOf(report, healthy)?.detail ?? "", /paused fleet-wide \(by ops\)/);
});

test("a job running far past its name's p99 is flagged while it runs, with worker and attempt", async () => {
  const quick = await mesh.client.enqueueMany(
    Array.from({ length: 8 }, () => ({ queue: timed, name: "slow", payload: { ms: 20 } })),
  );
  const ids = new Set(quick.map((r) => r.jobId));
  await waitFor(
    async () => (await readLedger(mesh.nc)).filter((e) => ids.has(e.jobId)).length === ids.size,
    "the quick jobs to run",
  );
  await waitFor(async () => {
    const stats = await call(cp, "stats", { queue: timed });
    return stats.queues[0]?.jobs.find((j: { name: string }) => j.name === "slow")?.durationMs?.count >= 8;
  }, "their durations in the stats window");
  // Once a heartbeat no longer lists them, none of them may count as slow.
  await waitFor(
    async () => (await call(cp, "jobs.running", { queue: timed })).total === 0,
    "a heartbeat after the quick jobs",
  );
  assert.deepEqual((await call<HealthReport>(cp, "health", { queue: timed })).slowJobs, []);

  const { jobId } = await mesh.client.enqueue(timed, "slow", { ms: 600_000 });
  const report = await waitFor(async () => {
    const r = await call<HealthReport>(cp, "health", { queue: timed });
    return r.slowJobs.some((j) => j.jobId === jobId) ? r : undefined;
  }, "the long job flagged slow");
  const slow = report.slowJobs.find((j) => j.jobId === jobId);
  assert.equal(slow?.attempt, 1);
  assert.ok(slow?.workerId, "names the worker");
  assert.ok((slow?.seenRunningForMs ?? 0) > (slow?.p99Ms ?? Number.POSITIVE_INFINITY));
  assert.equal(report.slowJobs.length, 1, "only the long job");
  const cli = await runCli(["health", timed, "--server", mesh.server.url]);
  assert.match(cli.stdout, new RegExp(`${jobId}\\s+${timed}\\s+slow\\s+1\\s+${slow?.workerId}`));
  await call(cp, "jobs.cancel", { jobId });
});
