// Acceptance 1 against a real worker process: a job that fails twice and then succeeds shows a
// timeline — waiting, running, backoff, per attempt — whose parts add up to its total, in the job
// lookup and `jetmesh job`; and its end-to-end time lands in the per-queue, per-name histogram.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { ControlPlane, JobLookup } from "../../control-plane/index.ts";
import { buildTimeline } from "../../control-plane/insight/job-timeline.ts";
import { runCli, startControlPlane } from "../control-plane/support.ts";
import { scrape } from "../observability/scrape.ts";
import { type MeshBundle, setupMesh, WorkerProcess, waitFor } from "../support/harness.ts";

let mesh: MeshBundle;
let cp: ControlPlane;
let worker: WorkerProcess;

before(async () => {
  mesh = await setupMesh();
  cp = await startControlPlane(mesh.server.url, { httpPort: 0, httpHost: "127.0.0.1" });
  worker = await WorkerProcess.start(mesh.server.url, { JETMESH_QUEUES: mesh.queue });
});

after(async () => {
  await worker.kill();
  await cp.stop();
  await mesh.close();
});

test("a job failing twice then succeeding has a timeline whose parts add up to its total", async () => {
  // The fixture fails attempts 1 and 2 and backs off 500 ms, then 1 s.
  const { jobId } = await mesh.client.enqueue(mesh.queue, "flaky", { failUntil: 3 });
  const job = await waitFor(async () => {
    // Between its ack and the recording of its outcome a finished job is briefly found nowhere.
    const reply = await cp.call("jobs.get", { jobId });
    const found = reply.ok ? (reply.data as JobLookup) : undefined;
    return found?.timeline?.outcome === "completed" && found.timeline.attempts.length === 3
      ? found
      : undefined;
  }, "the completed job's timeline");
  const t = job.timeline!;
  assert.deepEqual(
    t.attempts.map((a) => [a.attempt, a.outcome]),
    [
      [1, "failed"],
      [2, "failed"],
      [3, "completed"],
    ],
  );
  assert.equal(t.waitingMs + t.runningMs + t.backoffMs, t.totalMs, "the parts add up to the total");
  assert.equal(
    t.totalMs,
    (t.endedAt as number) - (t.enqueuedAt as number),
    "the total spans enqueue to outcome",
  );
  const sum = (pick: (a: (typeof t.attempts)[number]) => number) =>
    t.attempts.reduce((s, a) => s + pick(a), 0);
  assert.equal(
    sum((a) => a.runningMs),
    t.runningMs,
  );
  assert.equal(
    sum((a) => a.waitingBeforeMs),
    t.waitingMs,
  );
  assert.equal(
    sum((a) => a.backoffBeforeMs),
    t.backoffMs,
  );
  assert.equal(t.attempts[0]?.backoffBeforeMs, 0, "no backoff before the first attempt");
  assert.ok(
    (t.attempts[1]?.backoffBeforeMs ?? 0) > 0 && (t.attempts[2]?.backoffBeforeMs ?? 0) > 0,
    "backoff before each retry",
  );
  assert.deepEqual(t.notes, []);

  const cli = await runCli(["job", jobId, "--server", mesh.server.url]);
  assert.equal(cli.code, 0, cli.stderr);
  assert.match(cli.stdout, /timeline: .* in all = .* waiting \+ .* running \+ .* in backoff \(completed\)/);

  await waitFor(async () => {
    const samples = await scrape(`http://127.0.0.1:${cp.httpPort}/metrics`);
    return samples.some(
      (s) =>
        s.name === "jetmesh_job_end_to_end_seconds_count" &&
        s.labels.queue === mesh.queue &&
        s.labels.name === "flaky" &&
        s.labels.outcome === "completed" &&
        s.value === 1,
    );
  }, "the end-to-end histogram");
});

test("a timeline with a lost step says so, and a running job's timeline runs to now", () => {
  const steps = [
    { type: "started" as const, attempt: 1, at: 1000, waitMs: 100 },
    { type: "failed" as const, attempt: 1, at: 1500, durationMs: 500 },
    { type: "retrying" as const, attempt: 1, at: 1501, retryInMs: 300 },
    { type: "started" as const, attempt: 3, at: 4000, waitMs: 3100 },
  ];
  const t = buildTimeline(steps, 4600)!;
  assert.equal(t.outcome, "running");
  assert.equal(t.endedAt, null);
  assert.equal(t.totalMs, 4600 - 900);
  assert.equal(t.waitingMs + t.runningMs + t.backoffMs, t.totalMs);
  assert.equal(t.attempts.at(-1)?.runningMs, 600);
  assert.match(t.notes.join(" "), /attempt 2 was not recorded/);
});
