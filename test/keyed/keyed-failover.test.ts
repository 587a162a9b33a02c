// A worker that owns keyed partitions is killed with -9 mid-run: its partitions pass to the
// others once their leases expire, every job still runs, nothing is lost, and each key's jobs
// still run in order, one at a time (the dead worker's unfinished run is the only overlap).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import {
  type MeshBundle,
  setupMesh,
  streamMessages,
  type WorkerProcess,
  waitFor,
} from "../support/harness.ts";
import { byKey, orderViolation, readSteps } from "./ledger.ts";
import { partitionOwners, startKeyedWorker, waitForSpread } from "./support.ts";

const KEYS = 20;
const JOBS_PER_KEY = 30;
const PARTITIONS = 8;

let mesh: MeshBundle;
const workers: WorkerProcess[] = [];

before(async () => {
  mesh = await setupMesh({ ackWaitMs: 3000, keyPartitions: PARTITIONS });
});

after(async () => {
  for (const worker of workers) await worker.kill();
  await mesh.close();
});

test("kill -9 of a partition owner mid-run: every job runs, in order per key, nothing lost", async (t) => {
  workers.push(...(await Promise.all([0, 1, 2].map(() => startKeyedWorker(mesh.server.url, mesh.queue, 4)))));
  await waitForSpread(mesh.nc, mesh.queue, PARTITIONS, 3);

  const jobs = [];
  for (let index = 0; index < JOBS_PER_KEY; index++) {
    for (let k = 0; k < KEYS; k++) {
      const key = `key-${k}`;
      jobs.push({ queue: mesh.queue, name: "keyed.step", payload: { key, index, ms: 20 }, options: { key } });
    }
  }
  await mesh.client.enqueueMany(jobs);
  const total = KEYS * JOBS_PER_KEY;
  await waitFor(
    async () => (await readSteps(mesh.nc)).filter((step) => step.phase === "end").length >= total / 4,
    "a quarter of the jobs to complete",
    60_000,
    100,
  );

  const victim = workers[0];
  assert.ok(victim !== undefined);
  const before = await partitionOwners(mesh.nc, mesh.queue, PARTITIONS);
  await victim.kill("SIGKILL");
  const killedAt = Date.now();
  t.diagnostic(`killed worker ${victim.pid}; partitions per owner before: ${before.join(", ")}`);

  const steps = await waitFor(
    async () => {
      const all = await readSteps(mesh.nc);
      const done = new Set(
        all.filter((step) => step.phase === "end").map((step) => `${step.key}/${step.index}`),
      );
      return done.size >= total ? all : undefined;
    },
    `all ${total} jobs to complete`,
    90_000,
    250,
  );
  t.diagnostic(`all jobs completed ${Date.now() - killedAt} ms after the kill`);
  await waitFor(async () => (await streamMessages(mesh.jsm, mesh.stream)) === 0, "the queue to empty");

  const deadPids = new Set([victim.pid]);
  for (const [key, list] of byKey(steps)) {
    assert.equal(orderViolation(key, list, { count: JOBS_PER_KEY, deadPids }), undefined);
  }
  const survivorsAfter = steps.slice(steps.findLastIndex((step) => step.pid === victim.pid) + 1);
  assert.ok(
    survivorsAfter.some((step) => step.phase === "end"),
    "the surviving workers went on after the kill",
  );
  assert.ok(
    steps.some((step) => step.pid === victim.pid),
    "the killed worker had run jobs before it died",
  );
  const victimSteps = steps.filter((step) => step.pid === victim.pid);
  t.diagnostic(
    `killed worker: ${victimSteps.filter((s) => s.phase === "start").length} starts, ${victimSteps.filter((s) => s.phase === "end").length} ends`,
  );
  const reruns = steps.filter((step) => step.phase === "start").length - total;
  t.diagnostic(`runs beyond one per job (the killed worker's unfinished or unacknowledged ones): ${reruns}`);
  // The survivors hold every partition between them.
  const counts = await waitForSpread(mesh.nc, mesh.queue, PARTITIONS, 2);
  t.diagnostic(`partitions per surviving worker: ${[...counts.values()].join(", ")}`);
});
