// The negative control: handlers that block their event loop past the ack wait send no lease
// renewal, so JetStream redelivers while they still run. The ledger must see the duplicates —
// otherwise "no duplicate" in the other cases would prove nothing.
import assert from "node:assert/strict";
import { test } from "node:test";
import { runChaosCase } from "./support.ts";

test("negative control: a handler outliving its lease without renewal is counted as a duplicate", async (t) => {
  const report = await runChaosCase(t, {
    name: "ci-negative-control",
    cluster: false,
    durationMs: 10_000,
    seed: 3,
    rate: 20,
    ackWaitMs: 2000,
    faults: ["overrun"],
    expectDuplicates: true,
    drainTimeoutMs: 60_000,
  });
  assert.ok(report.accounting.duplicated.length >= 1, "duplicates were counted");
  assert.equal(report.accounting.lost.length, 0, "and nothing was lost");
});
