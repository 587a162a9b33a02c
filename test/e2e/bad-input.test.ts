// Acceptance: bad input is dead-lettered with the reason and never blocks the jobs behind it.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { jetstream } from "@nats-io/jetstream";
import { headers } from "@nats-io/transport-node";
import { Header, Worker } from "../../runtime/index.ts";
import { closeFixtures, jobs as fixtureJobs } from "../fixtures/handlers.ts";
import {
  deadLetters,
  type MeshBundle,
  readLedger,
  setupMesh,
  streamMessages,
  waitFor,
} from "../support/harness.ts";

let mesh: MeshBundle;
let worker: Worker;

before(async () => {
  mesh = await setupMesh();
  process.env.NATS_URL = mesh.server.url;
  // Concurrency 1: the bad jobs are ahead of the good ones in a single lane.
  worker = await Worker.start({
    connection: mesh.nc,
    queues: [mesh.queue],
    jobs: fixtureJobs,
    concurrency: 1,
    maxPayloadBytes: 1000,
  });
});

after(async () => {
  await worker.close();
  await closeFixtures();
  await mesh.close();
});

test("malformed payload, unknown name and oversized payload are dead-lettered; the jobs behind them run", async () => {
  const js = jetstream(mesh.nc);
  const malformed = headers();
  malformed.set(Header.ContentType, "application/json");
  malformed.set(Header.JobId, "bad-json");
  await js.publish(`jetmesh.q.${mesh.queue}.record`, "{not json", { headers: malformed });
  await mesh.client.enqueue(mesh.queue, "no.such.job", { x: 1 }, { jobId: "unknown-name" });
  await mesh.client.enqueue(mesh.queue, "record", { blob: "x".repeat(2000) }, { jobId: "too-big" });
  const good = await mesh.client.enqueueMany(
    Array.from({ length: 5 }, (_, i) => ({ queue: mesh.queue, name: "record", payload: { i } })),
  );

  const letters = await waitFor(async () => {
    const found = await deadLetters(mesh.jsm);
    return found.length >= 3 ? found : undefined;
  }, "three dead letters");
  const reasons = new Map(letters.map((l) => [l.header(Header.JobId), l]));
  assert.equal(reasons.get("bad-json")?.header(Header.DeadReason), "decode-failed");
  assert.match(reasons.get("bad-json")!.header(Header.ErrorMessage), /not valid JSON/);
  assert.equal(
    new TextDecoder().decode(reasons.get("bad-json")!.data),
    "{not json",
    "the original payload is kept",
  );
  assert.equal(reasons.get("unknown-name")?.header(Header.DeadReason), "unknown-job-name");
  assert.match(
    reasons.get("unknown-name")!.header(Header.ErrorMessage),
    /no handler for job name "no.such.job"/,
  );
  assert.equal(reasons.get("too-big")?.header(Header.DeadReason), "payload-too-large");
  assert.equal(reasons.get("unknown-name")?.subject, `jetmesh.dlq.${mesh.queue}.no.such.job`);

  const ids = new Set(good.map((r) => r.jobId));
  await waitFor(
    async () => (await readLedger(mesh.nc)).filter((e) => ids.has(e.jobId)).length === 5,
    "the good jobs",
  );
  await waitFor(async () => (await streamMessages(mesh.jsm, mesh.stream)) === 0, "the queue to empty");
  const bad = (await readLedger(mesh.nc)).filter((e) =>
    ["bad-json", "unknown-name", "too-big"].includes(e.jobId),
  );
  assert.deepEqual(bad, [], "no handler ran for bad input");
});

test("a job with an unparseable attempt header is dead-lettered as decode-failed", async () => {
  const js = jetstream(mesh.nc);
  const h = headers();
  h.set(Header.JobId, "bad-attempt");
  h.set(Header.Attempt, "soon");
  await js.publish(`jetmesh.q.${mesh.queue}.record`, "{}", { headers: h });
  const letter = await waitFor(
    async () => (await deadLetters(mesh.jsm)).find((l) => l.header(Header.JobId) === "bad-attempt"),
    "the dead letter",
  );
  assert.equal(letter.header(Header.DeadReason), "decode-failed");
  assert.match(letter.header(Header.ErrorMessage), /Jetmesh-Attempt/);
});
