// Uniqueness keys (acceptance 4): while a job with a key waits or runs, or within its window, an
// enqueue with the same key returns that job's id and stores nothing; once it has ended and the
// window has passed, a new job is created. Racing producers on separate connections create one
// job. Claims left by a producer that died are not honoured forever.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, test } from "node:test";
import { Kvm } from "@nats-io/kv";
import {
  defineJob,
  JetmeshClient,
  QueueNotFoundError,
  Subjects,
  uniqueBucket,
  Worker,
} from "../../runtime/index.ts";
import { type MeshBundle, setupMesh, streamMessages, uniqueName, waitFor } from "../support/harness.ts";

const gates = new Map<string, () => void>();
const jobs = [
  defineJob({
    name: "held",
    run: (_payload, context) => new Promise<void>((resolve) => gates.set(context.id, resolve)),
  }),
  defineJob({ name: "quick", run: () => "ok" }),
  defineJob({
    name: "broken",
    run: () => {
      throw new Error("always broken");
    },
  }),
];

let mesh: MeshBundle;
let worker: Worker;

before(async () => {
  mesh = await setupMesh();
  worker = await Worker.start({ connection: { servers: mesh.server.url }, queues: [mesh.queue], jobs });
});

after(async () => {
  await worker?.close(100);
  await mesh?.close();
});

async function uniqueEntries() {
  return new Kvm(mesh.nc).open(uniqueBucket(new Subjects()));
}

/** The entry of a key, read as the test's view of the claim (the key's hash as the client forms it). */
async function entryOf(queue: string, key: string) {
  const hash = createHash("sha256").update(key).digest("hex").slice(0, 32);
  const entry = await (await uniqueEntries()).get(`${queue}.${hash}`);
  return entry === null || entry.operation !== "PUT"
    ? undefined
    : entry.json<{ state: string; until: number }>();
}

/** A queue no worker serves: its jobs wait. */
async function idleQueue(): Promise<{ queue: string; stream: string }> {
  const queue = uniqueName("idle");
  const settings = await mesh.client.queues.declare(queue);
  return { queue, stream: settings.stream };
}

test("while a job with the key waits, a duplicate enqueue returns its id and stores nothing", async () => {
  const { queue, stream } = await idleQueue();
  const first = await mesh.client.enqueue(queue, "quick", { n: 1 }, { unique: { key: "invoice-42" } });
  assert.equal(first.duplicate, false);
  const second = await mesh.client.enqueue(queue, "quick", { n: 2 }, { unique: { key: "invoice-42" } });
  assert.deepEqual(
    { jobId: second.jobId, duplicate: second.duplicate, sequence: second.sequence },
    { jobId: first.jobId, duplicate: true, sequence: first.sequence },
  );
  // Another key, or the same key on another queue, is independent.
  const other = await mesh.client.enqueue(queue, "quick", {}, { unique: { key: "invoice-43" } });
  assert.notEqual(other.jobId, first.jobId);
  assert.equal(await streamMessages(mesh.jsm, stream), 2);
});

test("while the job runs it holds the key; once it completes (window 0) a new job is created", async () => {
  const unique = { key: "report-7" };
  const first = await mesh.client.enqueue(mesh.queue, "held", {}, { unique });
  await waitFor(() => gates.has(first.jobId), "the job running");
  const during = await mesh.client.enqueue(mesh.queue, "held", {}, { unique });
  assert.equal(during.jobId, first.jobId);
  assert.equal(during.duplicate, true);
  gates.get(first.jobId)?.();
  await waitFor(async () => (await entryOf(mesh.queue, unique.key))?.state === "done", "the key released");
  const next = await mesh.client.enqueue(mesh.queue, "held", {}, { unique });
  assert.notEqual(next.jobId, first.jobId);
  assert.equal(next.duplicate, false);
  await waitFor(() => gates.has(next.jobId), "the new job running");
  gates.get(next.jobId)?.();
});

test("within the window a completed job still holds the key; after the window a new job is created", async () => {
  const long = { key: "nightly", windowMs: 10 * 60_000 };
  const first = await mesh.client.enqueue(mesh.queue, "quick", {}, { unique: long });
  await waitFor(async () => (await entryOf(mesh.queue, long.key))?.state === "done", "the job completed");
  const again = await mesh.client.enqueue(mesh.queue, "quick", {}, { unique: long });
  assert.deepEqual([again.jobId, again.duplicate], [first.jobId, true]);

  const short = { key: "hourly", windowMs: 300 };
  const before = await mesh.client.enqueue(mesh.queue, "quick", {}, { unique: short });
  const entry = await waitFor(async () => {
    const found = await entryOf(mesh.queue, short.key);
    return found?.state === "done" ? found : undefined;
  }, "the job completed");
  await waitFor(() => Date.now() > entry.until, "the window over");
  const after = await mesh.client.enqueue(mesh.queue, "quick", {}, { unique: short });
  assert.notEqual(after.jobId, before.jobId);
  assert.equal(after.duplicate, false);
});

test("a dead-lettered job releases its key", async () => {
  const unique = { key: "doomed" };
  const first = await mesh.client.enqueue(mesh.queue, "broken", {}, { unique, maxAttempts: 1 });
  await waitFor(async () => (await entryOf(mesh.queue, unique.key))?.state === "done", "the key released");
  const next = await mesh.client.enqueue(mesh.queue, "broken", {}, { unique, maxAttempts: 1 });
  assert.notEqual(next.jobId, first.jobId);
});

test("concurrent duplicate enqueues from several clients create exactly one job", async (t) => {
  const { queue, stream } = await idleQueue();
  const clients = await Promise.all(
    Array.from({ length: 5 }, () => JetmeshClient.connect({ connection: { servers: mesh.server.url } })),
  );
  try {
    const started = Date.now();
    const results = await Promise.all(
      clients.flatMap((client) =>
        Array.from({ length: 10 }, (_, i) =>
          client.enqueue(queue, "quick", { i }, { unique: { key: "contended", windowMs: 60_000 } }),
        ),
      ),
    );
    t.diagnostic(`50 racing unique enqueues from 5 connections: ${Date.now() - started} ms`);
    assert.equal(new Set(results.map((r) => r.jobId)).size, 1);
    assert.equal(results.filter((r) => !r.duplicate).length, 1);
    assert.equal(await streamMessages(mesh.jsm, stream), 1);
  } finally {
    await Promise.all(clients.map((client) => client.close()));
  }
});

test("a failed publish releases the claim at once", async () => {
  const queue = uniqueName("missing");
  await assert.rejects(
    mesh.client.enqueue(queue, "quick", {}, { unique: { key: "first-try" } }),
    QueueNotFoundError,
  );
  assert.equal(await entryOf(queue, "first-try"), undefined);
});

test("a producer that died after claiming holds the key only briefly", async () => {
  const { queue, stream } = await idleQueue();
  const kv = await uniqueEntries();
  const hash = createHash("sha256").update("orphan").digest("hex").slice(0, 32);
  // A fresh claim whose job is being published right now: its id is the answer.
  const now = Date.now();
  await kv.put(
    `${queue}.${hash}`,
    JSON.stringify({ jobId: "in-flight", state: "pending", claimedAt: now, until: now }),
  );
  const racing = await mesh.client.enqueue(queue, "quick", {}, { unique: { key: "orphan" } });
  assert.deepEqual([racing.jobId, racing.duplicate], ["in-flight", true]);
  // The same claim long unconfirmed: its producer died, its job most likely never existed, and
  // the key goes to a new job even within the claim's window.
  const old = now - 10 * 60_000;
  await kv.put(
    `${queue}.${hash}`,
    JSON.stringify({ jobId: "never-stored", state: "pending", claimedAt: old, until: now + 3_600_000 }),
  );
  const fresh = await mesh.client.enqueue(queue, "quick", {}, { unique: { key: "orphan" } });
  assert.notEqual(fresh.jobId, "never-stored");
  assert.equal(fresh.duplicate, false);
  assert.equal(await streamMessages(mesh.jsm, stream), 1);
});

test("an enqueue retried with its job id after an unclear failure publishes under its own claim", async () => {
  const { queue, stream } = await idleQueue();
  const kv = await uniqueEntries();
  const hash = createHash("sha256").update("retried").digest("hex").slice(0, 32);
  // What a publish timeout leaves behind: the claim, unconfirmed, and maybe no job.
  const now = Date.now();
  await kv.put(
    `${queue}.${hash}`,
    JSON.stringify({ jobId: "order-7", state: "pending", claimedAt: now, until: now }),
  );
  const retried = await mesh.client.enqueue(
    queue,
    "quick",
    {},
    { jobId: "order-7", unique: { key: "retried" } },
  );
  assert.deepEqual([retried.jobId, retried.duplicate], ["order-7", false]);
  assert.equal((await entryOf(queue, "retried"))?.state, "enqueued");
  // A second retry finds the job stored; the queue's de-duplication keeps it single anyway.
  const again = await mesh.client.enqueue(
    queue,
    "quick",
    {},
    { jobId: "order-7", unique: { key: "retried" } },
  );
  assert.deepEqual([again.jobId, again.duplicate], ["order-7", true]);
  assert.equal(await streamMessages(mesh.jsm, stream), 1);
});

test("releaseUniqueKey frees a key whose job will never release it", async () => {
  const { queue, stream } = await idleQueue();
  const first = await mesh.client.enqueue(queue, "quick", {}, { unique: { key: "stuck" } });
  await mesh.jsm.streams.purge(stream); // the job is gone without an outcome
  assert.equal(
    (await mesh.client.enqueue(queue, "quick", {}, { unique: { key: "stuck" } })).jobId,
    first.jobId,
  );
  await mesh.client.releaseUniqueKey(queue, "stuck");
  const next = await mesh.client.enqueue(queue, "quick", {}, { unique: { key: "stuck" } });
  assert.notEqual(next.jobId, first.jobId);
  assert.equal(await streamMessages(mesh.jsm, stream), 1);
});

test("bad uniqueness options are refused with what to do", async () => {
  await assert.rejects(
    mesh.client.enqueue(mesh.queue, "quick", {}, { unique: { key: "" } }),
    /unique.key must be a non-empty string/,
  );
  await assert.rejects(
    mesh.client.enqueue(mesh.queue, "quick", {}, { unique: { key: "k", windowMs: -1 } }),
    /unique.windowMs must be whole ms from 0/,
  );
  await assert.rejects(
    mesh.client.enqueue(mesh.queue, "quick", {}, { headers: { "Jetmesh-Unique-Key": "x" } }),
    /set by jetmesh/,
  );
});
