// With the users and permissions shipped in deploy/nats/accounts.conf, a producer enqueues keyed
// jobs and a worker owns partitions, runs the jobs in order per key, retries one in place and hands
// its partitions back on close, without a single permission violation in the server's log.
import assert from "node:assert/strict";
import { test } from "node:test";
import { createLogger, defineJob, JetmeshClient, Worker } from "../../runtime/index.ts";
import { shippedAccountsSuite } from "../support/accounts.ts";
import { uniqueName, waitFor } from "../support/harness.ts";

const suite = shippedAccountsSuite();

test("producer and worker credentials suffice for keyed jobs", async () => {
  const queue = uniqueName();
  const admin = await JetmeshClient.connect({ connection: suite.as("controlPlane") });
  suite.closeLater(() => admin.close());
  await admin.queues.declare(queue, { ackWaitMs: 2000, keyPartitions: 4 });

  const runs: string[] = [];
  const worker = await Worker.start({
    connection: suite.as("worker"),
    queues: [queue],
    logger: createLogger({}, { JETMESH_LOG_LEVEL: "silent" }),
    jobs: [
      defineJob<{ key: string; index: number }>({
        name: "step",
        backoff: { type: "fixed", delayMs: 100 },
        run: ({ key, index }, ctx) => {
          runs.push(`${key}:${index}`);
          if (key === "k0" && index === 1 && ctx.attempt === 1) throw new Error("fails once");
        },
      }),
    ],
  });
  suite.closeLater(() => worker.close());

  const producer = await JetmeshClient.connect({ connection: suite.as("producer") });
  suite.closeLater(() => producer.close());
  const keys = ["k0", "k1", "k2"];
  await producer.enqueueMany(
    [0, 1, 2, 3].flatMap((index) =>
      keys.map((key) => ({ queue, name: "step", payload: { key, index }, options: { key } })),
    ),
  );
  await waitFor(() => runs.length >= 13, "12 keyed jobs and one retry to run");
  for (const key of keys) {
    const order = runs.filter((run) => run.startsWith(`${key}:`));
    assert.deepEqual(
      order,
      key === "k0" ? ["k0:0", "k0:1", "k0:1", "k0:2", "k0:3"] : [0, 1, 2, 3].map((i) => `${key}:${i}`),
    );
  }
  await worker.close();
  const denied = suite.server.log.split("\n").filter((line) => /Violation/.test(line));
  assert.deepEqual(denied, [], "keyed jobs need nothing the roles lack");
});
