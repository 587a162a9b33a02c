// A worker closing while jobs keep arriving hands the late arrivals back (a copy is stored, then
// the original is acknowledged). It must not close its connection before those hand-backs have
// settled: a stored copy whose original was never acknowledged runs twice. Found by the chaos
// suite (a duplicate after a worker drain); the race is timing-dependent, so the test closes a
// worker many times under a steady stream of jobs and counts every execution.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { createLogger, defineJob, JetmeshClient, Worker } from "../../runtime/index.ts";
import { NatsServer, uniqueName, waitFor } from "../support/harness.ts";

let server: NatsServer;
let client: JetmeshClient;
let queue: string;
const runs = new Map<string, number>();
const logger = createLogger({}, { JETMESH_LOG_LEVEL: "silent" });
const jobs = [
  defineJob<{ ms: number }>({
    name: "work",
    run: async (payload, ctx) => {
      await new Promise((resolve) => setTimeout(resolve, payload.ms));
      runs.set(ctx.id, (runs.get(ctx.id) ?? 0) + 1);
    },
  }),
];

before(async () => {
  server = await NatsServer.start();
  client = await JetmeshClient.connect({ connection: { servers: server.url } });
  queue = uniqueName("handback");
  await client.queues.declare(queue, { ackWaitMs: 2000 });
});

after(async () => {
  await client?.close();
  await server?.stop();
});

function startWorker(): Promise<Worker> {
  return Worker.start({ connection: { servers: server.url }, queues: [queue], jobs, concurrency: 4, logger });
}

test("workers closed while jobs keep arriving never leave a job to run twice", async () => {
  const survivor = await startWorker();
  const enqueued: Promise<{ jobId: string }>[] = [];
  try {
    for (let round = 0; round < 60; round++) {
      const closing = await startWorker();
      const stream = setInterval(() => {
        for (let i = 0; i < 10; i++) enqueued.push(client.enqueue(queue, "work", { ms: 2 }));
      }, 5);
      // Close at a different moment of the stream each round.
      await new Promise((resolve) => setTimeout(resolve, 100 + (round % 10) * 13));
      await closing.close();
      clearInterval(stream);
    }
    const ids = (await Promise.all(enqueued)).map((result) => result.jobId);
    await waitFor(() => ids.every((id) => runs.has(id)), "every job to run", 120_000, 100);
    // A duplicate would come back once its original's ack wait (2 s) has passed: wait until the
    // queue's consumer has nothing pending or in flight, then count.
    const jsm = await (await import("@nats-io/jetstream")).jetstreamManager(client.nc);
    const stream = client.subjects.queueStream(queue);
    await waitFor(
      async () => {
        const info = await jsm.consumers.info(stream, "workers");
        return info.num_pending === 0 && info.num_ack_pending === 0;
      },
      "the queue to settle",
      60_000,
      250,
    );
    const twice = ids.filter((id) => (runs.get(id) ?? 0) > 1);
    assert.deepEqual(twice, [], `${twice.length} of ${ids.length} jobs ran twice`);
  } finally {
    await survivor.close();
  }
});
