// A short chaos run on a 3-node cluster with R3 queues: one node killed, then two (no quorum:
// no enqueue may be acknowledged meanwhile), then one stopped and resumed. Zero loss.
import assert from "node:assert/strict";
import { test } from "node:test";
import { runChaosCase } from "./support.ts";

test("3-node cluster: node kills, a lost majority and a paused node lose nothing", async (t) => {
  const report = await runChaosCase(t, {
    name: "ci-cluster",
    cluster: true,
    durationMs: 30_000,
    seed: 11,
    rate: 30,
    gapSeconds: [3, 4],
    faults: ["node-kill", "two-nodes-kill", "node-pause"],
    drainTimeoutMs: 120_000,
  });
  const a = report.accounting;
  assert.ok(
    ["node-kill", "two-nodes-kill", "node-pause"].every((name) =>
      report.faults.some((f) => f.fault === name),
    ),
    "every cluster fault was injected",
  );
  assert.equal(a.lost.length + a.stuck.length + a.lostByServer.length, 0, "no acknowledged job lost");
  assert.equal(a.ackedInMinority.length, 0, "nothing acknowledged while the majority was down");
  assert.equal(a.unexpected.length, 0);
});
