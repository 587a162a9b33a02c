// A short chaos run on one nats-server: workers killed mid-job, the server killed and restarted,
// poison and malformed jobs, while a steady workload runs. Every acknowledged job must end
// completed or dead-lettered (with the expected reason), and nothing may run that was never enqueued.
import assert from "node:assert/strict";
import { test } from "node:test";
import { runChaosCase } from "./support.ts";

test("single node: worker kills, a server kill -9, poison and malformed jobs lose nothing", async (t) => {
  const report = await runChaosCase(t, {
    name: "ci-single",
    cluster: false,
    durationMs: 28_000,
    seed: 42,
    rate: 40,
    gapSeconds: [4, 6],
    faults: ["worker-kill", "server-kill", "poison", "malformed"],
    drainTimeoutMs: 90_000,
  });
  const a = report.accounting;
  assert.ok(a.enqueue.acked > 0 && a.completed > 0, "the workload ran");
  assert.equal(a.lost.length + a.stuck.length + a.lostByServer.length, 0, "no acknowledged job lost");
  assert.equal(a.unexpected.length, 0, "nothing ran that was never enqueued");
  assert.ok(
    report.faults.some((fault) => fault.fault === "server-kill"),
    "the server was killed",
  );
  // The poison jobs: one crashing its process every time, one failing every time.
  assert.ok((a.deadByReason["attempts-exhausted"] ?? 0) >= 1, "the crashing job was dead-lettered");
  assert.ok((a.deadByReason["max-attempts"] ?? 0) >= 1, "the failing job was dead-lettered");
  assert.ok((a.deadByReason["decode-failed"] ?? 0) >= 1, "malformed payloads were dead-lettered");
  assert.ok((a.deadByReason["unknown-job-name"] ?? 0) >= 1, "a job nobody handles was dead-lettered");
  assert.ok(a.enqueue.definiteErrors >= 1, "the oversized job was refused at enqueue");
  assert.ok(report.poisonExits >= 1, "the poison job took its worker down");
});
