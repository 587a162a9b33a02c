// Uniqueness across a fleet: three producer connections race on 20 keys, first while the jobs
// wait (no worker yet), then, once three worker processes have run them and released the keys,
// again while the workers run each new job as it arrives (a window keeps a finished job holding
// its key). Each round yields exactly one job per key, and every job runs exactly once.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, test } from "node:test";
import { Kvm } from "@nats-io/kv";
import { JetmeshClient, Subjects, uniqueBucket } from "../../runtime/index.ts";
import { type MeshBundle, readLedger, setupMesh, WorkerProcess, waitFor } from "../support/harness.ts";

let mesh: MeshBundle;
const workers: WorkerProcess[] = [];
const producers: JetmeshClient[] = [];

before(async () => {
  mesh = await setupMesh();
  for (let i = 0; i < 3; i++)
    producers.push(await JetmeshClient.connect({ connection: { servers: mesh.server.url } }));
});

after(async () => {
  await Promise.all(workers.map((worker) => worker.kill()));
  await Promise.all(producers.map((producer) => producer.close()));
  await mesh.close();
});

const KEYS = Array.from({ length: 20 }, (_, i) => `customer-${i}`);

/** Every producer enqueues every key twice at once; returns the one job id each key got. */
async function race(round: number, windowMs: number): Promise<Map<string, string>> {
  const results = await Promise.all(
    producers.flatMap((producer) =>
      KEYS.flatMap((key) =>
        [0, 1].map(async () => {
          const unique = { key, windowMs };
          const result = await producer.enqueue(mesh.queue, "record", { key, round }, { unique });
          return { key, jobId: result.jobId, created: !result.duplicate };
        }),
      ),
    ),
  );
  assert.equal(results.filter((r) => r.created).length, KEYS.length, `round ${round}: one job per key`);
  const ids = new Map<string, string>();
  for (const { key, jobId } of results) {
    assert.equal(ids.get(key) ?? jobId, jobId, `round ${round}: ${key} answered with one job id`);
    ids.set(key, jobId);
  }
  return ids;
}

function hashOf(key: string): string {
  return createHash("sha256").update(key).digest("hex").slice(0, 32);
}

test("racing producers, three workers: one job per key, run once; after it ends, a new one", async (t) => {
  const started = Date.now();
  const first = await race(1, 0);
  for (let i = 0; i < 3; i++)
    workers.push(await WorkerProcess.start(mesh.server.url, { JETMESH_QUEUES: mesh.queue }));
  const ledger = await waitFor(async () => {
    const entries = await readLedger(mesh.nc);
    return entries.length >= KEYS.length ? entries : undefined;
  }, "every key's job to run");
  assert.deepEqual(new Set(ledger.map((entry) => entry.jobId)), new Set(first.values()));

  // Whichever worker ran a key's job released the key.
  const kv = await new Kvm(mesh.nc).open(uniqueBucket(new Subjects()));
  await waitFor(async () => {
    const entries = await Promise.all(KEYS.map((key) => kv.get(`${mesh.queue}.${hashOf(key)}`)));
    return entries.every((entry) => entry?.json<{ state: string }>().state === "done");
  }, "every key released");

  const second = await race(2, 10 * 60_000);
  for (const key of KEYS) assert.notEqual(second.get(key), first.get(key), `${key} got a new job`);
  const entries = await waitFor(async () => {
    const all = await readLedger(mesh.nc);
    return all.length >= 2 * KEYS.length ? all : undefined;
  }, "the second round to run");
  assert.equal(entries.length, 2 * KEYS.length);
  assert.equal(new Set(entries.map((entry) => entry.jobId)).size, entries.length, "no job ran twice");
  t.diagnostic(
    `2 rounds × ${KEYS.length * 6} racing enqueues → ${entries.length} runs on ${new Set(entries.map((e) => e.pid)).size} worker processes, ${Date.now() - started} ms`,
  );
});
