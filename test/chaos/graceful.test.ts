// Faults that must never cause a duplicate: workers drained with SIGTERM, jobs running longer
// than the ack wait (kept alive by lease renewal) and a burst beyond the queue's limit (refused
// loudly, nothing silently dropped).
import assert from "node:assert/strict";
import { test } from "node:test";
import { runChaosCase } from "./support.ts";

test("graceful stops, long jobs and a burst into a full queue: no loss and no duplicate", async (t) => {
  const report = await runChaosCase(t, {
    name: "ci-graceful",
    cluster: false,
    durationMs: 20_000,
    seed: 7,
    rate: 40,
    maxJobs: 400,
    gapSeconds: [4, 5],
    faults: ["worker-term", "slow", "burst"],
    drainTimeoutMs: 90_000,
  });
  const a = report.accounting;
  assert.equal(a.lost.length + a.stuck.length, 0, "no acknowledged job lost");
  assert.equal(a.duplicated.length, 0, "no job ran twice");
  assert.ok(a.enqueue.definiteErrors > 0, "the burst beyond the limit was refused with QueueFullError");
  assert.ok(
    report.faults.some((fault) => fault.fault === "slow"),
    "long jobs ran",
  );
});
