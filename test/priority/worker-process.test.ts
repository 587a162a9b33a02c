// JETMESH_PRIORITY: the worker process reads strict order or weights from its environment,
// rejects bad values with errors that say what to write, and serves its queues by it.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { JetmeshClient } from "../../runtime/index.ts";
import { ConfigError, readWorkerConfig } from "../../workers/config.ts";
import {
  createLedger,
  type NatsServer,
  readLedger,
  startServer,
  uniqueName,
  WorkerProcess,
  waitFor,
} from "../support/harness.ts";

const base = { JETMESH_HANDLERS: "app/jobs.ts", JETMESH_QUEUES: "critical,default,low" };

describe("JETMESH_PRIORITY", () => {
  test("unset, the queues keep slots of their own", () => {
    assert.equal(readWorkerConfig(base).priority, undefined);
  });

  test("strict follows the order of JETMESH_QUEUES", () => {
    assert.equal(readWorkerConfig({ ...base, JETMESH_PRIORITY: "strict" }).priority, "strict");
    assert.equal(readWorkerConfig({ ...base, JETMESH_PRIORITY: " STRICT " }).priority, "strict");
  });

  test("weights name every queue", () => {
    assert.deepEqual(
      readWorkerConfig({ ...base, JETMESH_PRIORITY: "critical=6, default=3, low=1" }).priority,
      { weights: { critical: 6, default: 3, low: 1 } },
    );
  });

  const bad: [string, Record<string, string>, RegExp][] = [
    ["a word other than strict", { JETMESH_PRIORITY: "fair" }, /"fair" is neither/],
    [
      "a weight that is not a whole number",
      { JETMESH_PRIORITY: "critical=6,default=1.5,low=1" },
      /default=1.5/,
    ],
    [
      "a zero weight",
      { JETMESH_PRIORITY: "critical=6,default=0,low=1" },
      /"default" must be a positive integer/,
    ],
    [
      "a queue not served",
      { JETMESH_PRIORITY: "critical=6,default=3,low=1,bulk=1" },
      /"bulk", which this worker does not serve/,
    ],
    ["a served queue left out", { JETMESH_PRIORITY: "critical=6,default=3" }, /missing: low/],
    ["a repeated queue", { JETMESH_QUEUES: "a,b,a", JETMESH_PRIORITY: "strict" }, /repeated: a/],
    [
      "prefetch as well",
      { JETMESH_PRIORITY: "strict", JETMESH_PREFETCH: "2" },
      /JETMESH_PREFETCH cannot be combined/,
    ],
  ];
  for (const [what, env, message] of bad) {
    test(`rejects ${what}`, () => {
      assert.throws(
        () => readWorkerConfig({ ...base, ...env }),
        (error: unknown) => error instanceof ConfigError && message.test(error.message),
      );
    });
  }
});

describe("a worker process started with JETMESH_PRIORITY=strict", () => {
  let server: NatsServer;
  let client: JetmeshClient;
  let worker: WorkerProcess | undefined;

  before(async () => {
    server = await startServer();
    client = await JetmeshClient.connect({ connection: { servers: server.url } });
    await createLedger(client.nc);
  });

  after(async () => {
    await worker?.kill("SIGTERM");
    await client.close();
    await server.stop();
  });

  test("runs the first queue's backlog before the second's", async (t) => {
    const high = uniqueName("high");
    const low = uniqueName("low");
    for (const queue of [high, low]) await client.queues.declare(queue);
    const enqueue = (queue: string) =>
      client.enqueueMany(Array.from({ length: 30 }, (_, i) => ({ queue, name: "record", payload: { i } })));
    // The low backlog is older: without priority it would not wait.
    const lowIds = new Set((await enqueue(low)).map((r) => r.jobId));
    const highIds = new Set((await enqueue(high)).map((r) => r.jobId));
    const concurrency = 2;
    worker = await WorkerProcess.start(server.url, {
      JETMESH_QUEUES: `${high},${low}`,
      JETMESH_PRIORITY: "strict",
      JETMESH_CONCURRENCY: String(concurrency),
    });
    await waitFor(async () => (await readLedger(client.nc)).length === 60, "all 60 jobs to run");
    // The ledger is in order of completion: a low job may finish before high jobs still running
    // when it started (one per other slot), never before a high job that had not started.
    const order = (await readLedger(client.nc)).map((entry) => (highIds.has(entry.jobId) ? "high" : "low"));
    const lastHigh = order.lastIndexOf("high");
    const firstLow = order.indexOf("low");
    t.diagnostic(`last high job completed #${lastHigh + 1}, first low job #${firstLow + 1}`);
    assert.equal(order.filter((queue) => queue === "low").length, lowIds.size);
    assert.ok(lastHigh < firstLow + concurrency, `low jobs ran ahead of high ones: ${order.join(" ")}`);
  });
});
