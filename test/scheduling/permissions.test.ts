// The shipped NATS permissions (deploy/nats/accounts.conf) let each role do its part of
// scheduling: a producer enqueues a delayed job, a worker moves a long retry to the delay store,
// and the control plane fires both, with no permission violation in the server's log.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { ControlPlane } from "../../control-plane/index.ts";
import { defineJob, JetmeshClient, Worker } from "../../runtime/index.ts";
import { quietLogger, startControlPlane } from "../control-plane/support.ts";
import { shippedAccountsSuite } from "../support/accounts.ts";
import { uniqueName, waitFor } from "../support/harness.ts";

const suite = shippedAccountsSuite();
let cp: ControlPlane;

test("producer, worker and control plane credentials suffice for delayed jobs and long retries", async () => {
  const queue = uniqueName();
  const admin = await JetmeshClient.connect({ connection: suite.as("controlPlane") });
  suite.closeLater(() => admin.close());
  await admin.queues.declare(queue, { ackWaitMs: 2000 });
  cp = await startControlPlane(suite.server.url, { connection: suite.as("controlPlane") });
  suite.closeLater(() => cp.stop());
  const runs: { jobId: string; attempt: number }[] = [];
  const job = defineJob({
    name: "flaky",
    backoff: { type: "fixed", delayMs: 3000 },
    run: (_payload, ctx) => {
      runs.push({ jobId: ctx.id, attempt: ctx.attempt });
      if (ctx.attempt === 1) throw new Error("first attempt fails");
    },
  });
  const worker = await Worker.start({
    connection: suite.as("worker"),
    queues: [queue],
    jobs: [job],
    logger: quietLogger,
  });
  suite.closeLater(() => worker.close());
  const producer = await JetmeshClient.connect({ connection: suite.as("producer") });
  suite.closeLater(() => producer.close());
  const { jobId, dueAt } = await producer.enqueue(queue, "flaky", {}, { delay: 1000 });
  assert.ok(dueAt !== undefined, "stored as a delayed job");
  await waitFor(
    () => runs.some((run) => run.jobId === jobId && run.attempt === 2),
    "the retried attempt",
    60_000,
  );
  const violations = suite.server.log.split("\n").filter((line) => /Violation/.test(line));
  assert.deepEqual(violations, [], "no role lacked a permission");
});
