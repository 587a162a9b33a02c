// Acceptance 2 across worker processes: two workers serving a high and a low queue from one
// budget of 2 slots each (JETMESH_PRIORITY=strict), every slot busy with a deep low backlog. The
// test frees slots one at a time and counts the low jobs that start before each high job.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { JetmeshClient } from "../../runtime/index.ts";
import { type NatsServer, startServer, uniqueName, WorkerProcess, waitFor } from "../support/harness.ts";
import type { GatedStart } from "./handlers.ts";

let server: NatsServer;
let client: JetmeshClient;
const workers: WorkerProcess[] = [];

before(async () => {
  server = await startServer();
  client = await JetmeshClient.connect({ connection: { servers: server.url } });
});

after(async () => {
  for (const worker of workers) await worker.kill();
  await client.close();
  await server.stop();
});

test("with two workers' slots busy on a deep low backlog, each high job takes the next slot of its worker", async (t) => {
  const high = uniqueName("high");
  const low = uniqueName("low");
  for (const queue of [high, low]) await client.queues.declare(queue);
  await client.enqueueMany(Array.from({ length: 2000 }, () => ({ queue: low, name: "gated", payload: {} })));
  const starts: GatedStart[] = [];
  const released = new Set<string>();
  const running = (pid?: number) =>
    starts.filter((s) => !released.has(s.jobId) && (pid === undefined || s.pid === pid));
  const release = (jobId: string) => {
    released.add(jobId);
    client.nc.publish(`prio.release.${jobId}`);
  };
  /** The most jobs seen running at once in one worker process, counted at every start. */
  let mostOnOneWorker = 0;
  const noteLoad = () => {
    for (const worker of workers) mostOnOneWorker = Math.max(mostOnOneWorker, running(worker.pid).length);
  };
  client.nc.subscribe("prio.started", {
    callback: (_error, msg) => {
      starts.push(msg.json<GatedStart>());
      noteLoad();
    },
  });
  await client.nc.flush();
  const concurrency = 2;
  for (let i = 0; i < 2; i++) {
    workers.push(
      await WorkerProcess.start(server.url, {
        JETMESH_HANDLERS: "test/priority/handlers.ts",
        JETMESH_QUEUES: `${high},${low}`,
        JETMESH_PRIORITY: "strict",
        JETMESH_CONCURRENCY: String(concurrency),
      }),
    );
  }
  await waitFor(() => running().length === 2 * concurrency, "every slot of both workers busy");

  const sameWorker: number[] = [];
  const fleetWide: number[] = [];
  for (let round = 0; round < 6; round++) {
    const { jobId: highId } = await client.enqueue(high, "gated", { round });
    const mark = starts.length;
    const highStart = () => starts.find((s) => s.jobId === highId);
    while (highStart() === undefined) {
      const oldestLow = running().find((s) => s.queue === low);
      assert.ok(oldestLow, "a low job is running to be released");
      const before = starts.length;
      release(oldestLow.jobId);
      await waitFor(() => starts.length > before, "the freed slot to start a job");
    }
    const started = highStart() as GatedStart;
    const lowsBefore = starts.slice(mark, starts.indexOf(started)).filter((s) => s.queue === low);
    sameWorker.push(lowsBefore.filter((s) => s.pid === started.pid).length);
    fleetWide.push(lowsBefore.length);
    release(highId);
    await waitFor(() => running().length === 2 * concurrency, "the freed slot refilled with a low job");
  }
  t.diagnostic(`low jobs started before each high job on its worker: ${sameWorker.join(" ")}`);
  t.diagnostic(`… and on both workers together: ${fleetWide.join(" ")}`);
  assert.ok(
    sameWorker.every((n) => n <= 1),
    `a high job waited for more than one low job: ${sameWorker}`,
  );
  assert.equal(mostOnOneWorker, concurrency, "each worker's queues share its budget of slots");
});
