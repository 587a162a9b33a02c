// What serving queues from one slot budget costs, measured: pull requests per job started and
// throughput beside a worker whose queue has slots of its own. The figures are diagnostics (no
// timing is asserted); the assertions are the behaviour the figures rest on: every job runs
// once, no job is pulled that could not start (nothing handed back), the budget is shared.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { defineJob, JetmeshClient, type PriorityOption, Worker } from "../../runtime/index.ts";
import { type NatsServer, startServer, uniqueName, waitFor } from "../support/harness.ts";

let server: NatsServer;
let client: JetmeshClient;

before(async () => {
  server = await startServer();
  client = await JetmeshClient.connect({ connection: { servers: server.url } });
  // Unreported: the first run of anything is slower (JIT, server caches), whichever it is.
  await measure({ backlog: [JOBS] });
});

after(async () => {
  await client.close();
  await server.stop();
});

const JOBS = 3000;
const CONCURRENCY = 8;

interface Scenario {
  /** Jobs to enqueue per queue, highest priority first; a queue with 0 stays empty. */
  backlog: number[];
  priority?: (queues: string[]) => PriorityOption;
}

/** Pull requests the worker sends, counted from the subjects they go to. */
function countPulls(nc: NatsConnection): { count: number } {
  const pulls = { count: 0 };
  nc.subscribe("$JS.API.CONSUMER.MSG.NEXT.>", {
    callback: () => {
      pulls.count++;
    },
  });
  return pulls;
}

async function measure({ backlog, priority }: Scenario) {
  const queues = backlog.map(() => uniqueName("cost"));
  for (const [i, queue] of queues.entries()) {
    await client.queues.declare(queue);
    const count = backlog[i] as number;
    if (count > 0)
      await client.enqueueMany(Array.from({ length: count }, () => ({ queue, name: "noop", payload: {} })));
  }
  const total = backlog.reduce((sum, n) => sum + n, 0);
  const pulls = countPulls(client.nc);
  await client.nc.flush();
  let started = 0;
  let running = 0;
  let maxRunning = 0;
  let allStarted: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    allStarted = resolve;
  });
  const begin = performance.now();
  const worker = await Worker.start({
    connection: { servers: server.url },
    queues,
    concurrency: CONCURRENCY,
    ...(priority === undefined ? {} : { priority: priority(queues) }),
    events: false,
    jobs: [
      defineJob({
        name: "noop",
        run: async () => {
          running++;
          maxRunning = Math.max(maxRunning, running);
          if (++started === total) allStarted();
          await new Promise((resolve) => setImmediate(resolve));
          running--;
        },
      }),
    ],
  });
  await done;
  const seconds = (performance.now() - begin) / 1000;
  await worker.close();
  const jsm = await jetstreamManager(client.nc);
  // A hand-back stores the job again: the streams would hold more than was enqueued.
  let stored = 0;
  for (const queue of queues) stored += (await jsm.streams.info(`jetmesh_q_${queue}`)).state.last_seq;
  await waitFor(async () => {
    for (const queue of queues)
      if ((await jsm.streams.info(`jetmesh_q_${queue}`)).state.messages > 0) return false;
    return true;
  }, "every job acknowledged");
  return { started, total, maxRunning, handedBack: stored - total, pulls: pulls.count, seconds };
}

const scenarios: [string, Scenario][] = [
  ["one queue, slots of its own (baseline)", { backlog: [JOBS] }],
  ["one queue, strict priority", { backlog: [JOBS], priority: () => "strict" }],
  ["three queues, strict, only the lowest has jobs", { backlog: [0, 0, JOBS], priority: () => "strict" }],
  [
    "three queues, weights 6:3:1, all backlogged",
    {
      backlog: [JOBS / 3, JOBS / 3, JOBS / 3],
      priority: ([a, b, c]) => ({ weights: { [a as string]: 6, [b as string]: 3, [c as string]: 1 } }),
    },
  ],
  ["one queue, slots of its own (baseline again, after the others)", { backlog: [JOBS] }],
];

for (const [name, scenario] of scenarios) {
  test(`cost: ${name}`, async (t) => {
    const result = await measure(scenario);
    t.diagnostic(
      `${result.total} jobs at concurrency ${CONCURRENCY}: ${(result.pulls / result.total).toFixed(2)} pull requests per job, ` +
        `${Math.round(result.total / result.seconds)} jobs/s, ${result.handedBack} handed back`,
    );
    assert.equal(result.started, result.total, "every job ran");
    assert.equal(result.handedBack, 0, "no job was pulled that could not start");
    assert.ok(result.maxRunning <= CONCURRENCY * scenario.backlog.length);
    if (scenario.priority !== undefined) assert.ok(result.maxRunning <= CONCURRENCY, "one shared budget");
  });
}
