// Logs keep secrets out: fields named like secrets and the payload fields listed in
// JETMESH_LOG_REDACT are replaced in a job's log lines, which still carry the job's ids.
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { after, before, test } from "node:test";
import { createLogger, defineJob, JetmeshError, Worker } from "../../runtime/index.ts";
import { type MeshBundle, setupMesh, waitFor } from "../support/harness.ts";

const lines: Record<string, unknown>[] = [];
let mesh: MeshBundle;
let worker: Worker;

before(async () => {
  mesh = await setupMesh();
  const capture = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split("\n").filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  const logger = createLogger(
    {},
    { JETMESH_LOG_LEVEL: "info", JETMESH_LOG_REDACT: "payload.cardNumber, payload.owner.ssn" },
    capture,
  );
  worker = await Worker.start({
    connection: mesh.nc,
    queues: [mesh.queue],
    jobs: [
      defineJob<{ cardNumber: string; amount: number; owner: { ssn: string; name: string } }>({
        name: "charge",
        run: (payload, ctx) => {
          ctx.logger.info({ payload, apiKey: "key-123", gateway: { password: "pw" } }, "charging");
        },
      }),
    ],
    logger,
  });
});

after(async () => {
  await worker?.close();
  await mesh?.close();
});

test("listed payload fields and secret-named fields are redacted; ids stay", async () => {
  const { jobId } = await mesh.client.enqueue(mesh.queue, "charge", {
    cardNumber: "4111111111111111",
    amount: 42,
    owner: { ssn: "078-05-1120", name: "Ada" },
  });
  const line = await waitFor(
    () => lines.find((l) => l.jobId === jobId && l.msg === "charging"),
    "the handler's log line",
  );
  assert.deepEqual(line.payload, {
    cardNumber: "[redacted]",
    amount: 42,
    owner: { ssn: "[redacted]", name: "Ada" },
  });
  assert.equal(line.apiKey, "[redacted]");
  assert.deepEqual(line.gateway, { password: "[redacted]" });
  assert.equal(line.queue, mesh.queue);
  assert.equal(line.jobName, "charge");
  assert.equal(line.workerId, worker.id);
  assert.equal(line.attempt, 1);
  assert.ok(!JSON.stringify(lines).includes("4111111111111111"), "the card number appears nowhere");
});

test("an unreadable JETMESH_LOG_REDACT path is a configuration error naming the variable", () => {
  assert.throws(
    () => createLogger({}, { JETMESH_LOG_REDACT: "payload.[" }),
    (error: unknown) =>
      error instanceof JetmeshError && /JETMESH_LOG_REDACT: .*payload\.\[/.test(error.message),
  );
});
