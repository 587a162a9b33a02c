// The producer API against a real server: idempotent declaration, de-duplicated enqueue, and
// typed errors a producer can act on.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import {
  JetmeshClient,
  JetmeshError,
  PayloadTooLargeError,
  QueueFullError,
  QueueNotFoundError,
} from "../../runtime/index.ts";
import { NatsServer, uniqueName } from "../support/harness.ts";

let server: NatsServer;
let client: JetmeshClient;

before(async () => {
  server = await NatsServer.start();
  client = await JetmeshClient.connect({ connection: { servers: server.url } });
});

after(async () => {
  await client.close();
  await server.stop();
});

test("declaring a queue twice is idempotent and reads back its settings", async () => {
  const queue = uniqueName();
  const first = await client.queues.declare(queue, { concurrency: 7, maxAttempts: 4, ackWaitMs: 9000 });
  const second = await client.queues.declare(queue, { concurrency: 7, maxAttempts: 4, ackWaitMs: 9000 });
  assert.deepEqual(first, second);
  assert.deepEqual(await client.queues.settings(queue), {
    queue,
    stream: `jetmesh_q_${queue}`,
    consumer: "workers",
    ackWaitMs: 9000,
    maxAttempts: 4,
    concurrency: 7,
  });
});

test("an enqueue with a known job id is de-duplicated", async () => {
  const queue = uniqueName();
  await client.queues.declare(queue);
  const first = await client.enqueue(queue, "email.send", { to: "a" }, { jobId: "order-42" });
  const again = await client.enqueue(queue, "email.send", { to: "a" }, { jobId: "order-42" });
  assert.equal(first.duplicate, false);
  assert.equal(again.duplicate, true);
  assert.equal(again.sequence, first.sequence);
  assert.equal(again.jobId, "order-42");
});

test("enqueueMany returns one result per job, in order", async () => {
  const queue = uniqueName();
  await client.queues.declare(queue);
  const jobs = Array.from({ length: 2500 }, (_, i) => ({
    queue,
    name: "n",
    payload: i,
    options: { jobId: `j-${i}` },
  }));
  const results = await client.enqueueMany(jobs);
  assert.deepEqual(
    results.map((r) => r.jobId),
    jobs.map((j) => j.options.jobId),
  );
  assert.deepEqual(
    results.map((r) => r.sequence),
    Array.from({ length: 2500 }, (_, i) => i + 1),
  );
});

test("errors say what is wrong: missing queue, full queue, oversized payload, bad options", async () => {
  await assert.rejects(client.enqueue(uniqueName(), "x", {}), QueueNotFoundError);

  const small = uniqueName();
  await client.queues.declare(small, { maxJobs: 2 });
  await client.enqueue(small, "x", 1);
  await client.enqueue(small, "x", 2);
  await assert.rejects(client.enqueue(small, "x", 3), QueueFullError);

  const limited = uniqueName();
  await client.queues.declare(limited, { maxJobBytes: 2000 });
  await assert.rejects(client.enqueue(limited, "x", "y".repeat(5000)), PayloadTooLargeError);
  await assert.rejects(client.enqueue(limited, "x", "y".repeat(2 * 1024 * 1024)), PayloadTooLargeError);

  await assert.rejects(
    client.enqueue(limited, "x", {}, { maxAttempts: 0 }),
    /maxAttempts must be a positive integer/,
  );
  await assert.rejects(
    client.enqueue(limited, "x", {}, { headers: { "Jetmesh-Job-Id": "x" } }),
    /set by jetmesh/,
  );
  await assert.rejects(client.enqueue(limited, "bad name!", {}), (error: unknown) => {
    assert.ok(error instanceof JetmeshError);
    assert.equal(error.code, "INVALID_NAME");
    return true;
  });
  await assert.rejects(client.queues.declare("a.b"), /invalid queue name/);
});
