// Acceptance (metrics): after a mix of succeeding, failing and slow jobs, /metrics shows the
// right counts and histogram totals, and label values stay bounded (no job ids, no messages).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { type MetricsServer, startMetricsServer, Worker, WorkerMetrics } from "../../runtime/index.ts";
import { closeFixtures, jobs as fixtureJobs } from "../fixtures/handlers.ts";
import { collectEvents, type MeshBundle, setupMesh, waitFor } from "../support/harness.ts";

let mesh: MeshBundle;
let worker: Worker;
let server: MetricsServer;

before(async () => {
  mesh = await setupMesh({ maxAttempts: 2 });
  process.env.NATS_URL = mesh.server.url;
  const metrics = new WorkerMetrics();
  worker = await Worker.start({
    connection: mesh.nc,
    queues: [mesh.queue],
    jobs: fixtureJobs,
    concurrency: 8,
    metrics,
  });
  server = await startMetricsServer(metrics.registry, { port: 0, host: "127.0.0.1" });
});

after(async () => {
  await server.close();
  await worker.close();
  await closeFixtures();
  await mesh.close();
});

/** The value of one sample line, e.g. `jetmesh_jobs_total{queue="q",name="record",outcome="completed"}`. */
function sample(text: string, name: string, labels: Record<string, string>): number {
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`)) continue;
    const body = line.slice(name.length + 1, line.lastIndexOf("}"));
    const found = Object.fromEntries(
      [...body.matchAll(/(\w+)="([^"]*)"/g)].map((match) => [match[1], match[2]]),
    );
    if (Object.entries(labels).every(([key, value]) => found[key] === value)) {
      return Number(line.slice(line.lastIndexOf(" ") + 1));
    }
  }
  return 0;
}

test("/metrics counts outcomes, failures by class, durations and waits", async () => {
  const events = collectEvents(mesh.nc, mesh.queue);
  const queue = mesh.queue;
  await mesh.client.enqueueMany([
    ...Array.from({ length: 6 }, (_, i) => ({ queue, name: "record", payload: { i } })),
    ...Array.from({ length: 2 }, () => ({ queue, name: "slow", payload: { ms: 300 } })),
    { queue, name: "always.fail", payload: { errorClass: "CardDeclinedError" } },
    { queue, name: "invented.name", payload: {} },
  ]);
  await waitFor(() => events.filter((e) => e.type === "completed").length === 8, "8 completions");
  await waitFor(
    () => events.filter((e) => e.type === "dead").length === 2,
    "the failing and the unknown job to die",
  );

  const text = await (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text();
  assert.equal(sample(text, "jetmesh_jobs_total", { queue, name: "record", outcome: "completed" }), 6);
  assert.equal(sample(text, "jetmesh_jobs_total", { queue, name: "slow", outcome: "completed" }), 2);
  assert.equal(sample(text, "jetmesh_jobs_total", { queue, name: "always.fail", outcome: "failed" }), 2);
  assert.equal(sample(text, "jetmesh_jobs_total", { queue, name: "always.fail", outcome: "retried" }), 1);
  assert.equal(sample(text, "jetmesh_jobs_total", { queue, name: "always.fail", outcome: "dead" }), 1);
  assert.equal(
    sample(text, "jetmesh_job_failures_total", {
      queue,
      name: "always.fail",
      error_class: "CardDeclinedError",
      kind: "handler",
    }),
    2,
  );
  assert.equal(sample(text, "jetmesh_job_redeliveries_total", { queue, name: "always.fail" }), 1);
  assert.equal(sample(text, "jetmesh_jobs_total", { queue, name: "(unknown)", outcome: "dead" }), 1);
  assert.doesNotMatch(text, /invented\.name/, "an unknown job name adds no series");
  assert.equal(
    sample(text, "jetmesh_job_wait_seconds_count", { queue, name: "always.fail" }),
    1,
    "first attempts only",
  );
  assert.equal(
    sample(text, "jetmesh_job_duration_seconds_count", { queue, name: "slow", outcome: "completed" }),
    2,
  );
  const slowSum = sample(text, "jetmesh_job_duration_seconds_sum", {
    queue,
    name: "slow",
    outcome: "completed",
  });
  assert.ok(slowSum >= 0.6, `two 300 ms jobs took ${slowSum} s in total`);
  assert.equal(
    sample(text, "jetmesh_job_duration_seconds_bucket", {
      queue,
      name: "slow",
      outcome: "completed",
      le: "0.25",
    }),
    0,
  );
  assert.equal(sample(text, "jetmesh_job_wait_seconds_count", { queue, name: "record" }), 6);
  assert.equal(sample(text, "jetmesh_worker_capacity", { queue }), 8);
  assert.match(text, /^process_resident_memory_bytes /m, "default process metrics are exported");
  assert.doesNotMatch(text, /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}/, "no job id in any label");
  assert.doesNotMatch(text, /always fails/, "no error message in any label");

  const health = await fetch(`http://127.0.0.1:${server.port}/healthz`);
  assert.equal(health.status, 200);
});
