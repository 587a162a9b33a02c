// The shipped NATS permissions (deploy/nats/accounts.conf) let each role do its part of
// scheduling: a producer enqueues a delayed job, a worker moves a long retry to the delay store,
// and the control plane fires both, with no permission violation in the server's log.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { ControlPlane } from "../../control-plane/index.ts";
import { defineJob, JetmeshClient, Worker } from "../../runtime/index.ts";
import { quietLogger, startControlPlane } from "../control-plane/support.ts";
import { DEV_USERS, startServerWithShippedAccounts } from "../support/accounts.ts";
import { type NatsServer, uniqueName, waitFor } from "../support/harness.ts";

const USERS = DEV_USERS;

let server: NatsServer;
let cp: ControlPlane;
const closers: (() => Promise<unknown>)[] = [];

before(async () => {
  server = await startServerWithShippedAccounts();
});

after(async () => {
  for (const close of closers.reverse()) await close().catch(() => {});
  await server.stop();
});

test("producer, worker and control plane credentials suffice for delayed jobs and long retries", async () => {
  const queue = uniqueName();
  const admin = await JetmeshClient.connect({ connection: { servers: server.url, ...USERS.controlPlane } });
  closers.push(() => admin.close());
  await admin.queues.declare(queue, { ackWaitMs: 2000 });
  cp = await startControlPlane(server.url, { connection: { servers: server.url, ...USERS.controlPlane } });
  closers.push(() => cp.stop());
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
    connection: { servers: server.url, ...USERS.worker },
    queues: [queue],
    jobs: [job],
    logger: quietLogger,
  });
  closers.push(() => worker.close());
  const producer = await JetmeshClient.connect({ connection: { servers: server.url, ...USERS.producer } });
  closers.push(() => producer.close());
  const { jobId, dueAt } = await producer.enqueue(queue, "flaky", {}, { delay: 1000 });
  assert.ok(dueAt !== undefined, "stored as a delayed job");
  await waitFor(
    () => runs.some((run) => run.jobId === jobId && run.attempt === 2),
    "the retried attempt",
    60_000,
  );
  const violations = server.log.split("\n").filter((line) => /Violation/.test(line));
  assert.deepEqual(violations, [], "no role lacked a permission");
});
