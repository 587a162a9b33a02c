// With the users and permissions shipped in deploy/nats/accounts.conf, a producer can enqueue
// with a uniqueness key and wait for a result, and a worker can record it and release the key,
// without a single permission violation; a producer still cannot write the other buckets.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { Kvm } from "@nats-io/kv";
import { findNatsServerBinary, type NatsServer } from "../../deploy/local/nats-server.ts";
import {
  type ConnectionSettings,
  JetmeshClient,
  JobFailedError,
  Subjects,
  uniqueBucket,
} from "../../runtime/index.ts";
import { DECLINED_CARD } from "../../workers/handlers/examples.ts";
import { DEV_USERS, startServerWithShippedAccounts } from "../support/accounts.ts";
import { uniqueName, WorkerProcess, waitFor } from "../support/harness.ts";

const skip = findNatsServerBinary() === undefined ? "nats-server is not installed" : false;

let server: NatsServer;
let admin: JetmeshClient;
let producer: JetmeshClient;
let worker: WorkerProcess | undefined;

function as(user: { user: string; password: string }): ConnectionSettings {
  return { servers: server.url, ...user };
}

before(async () => {
  if (skip) return;
  server = await startServerWithShippedAccounts();
  admin = await JetmeshClient.connect({ connection: as(DEV_USERS.controlPlane) });
  producer = await JetmeshClient.connect({ connection: as(DEV_USERS.producer) });
});

after(async () => {
  await worker?.kill();
  await producer?.close().catch(() => {});
  await admin?.close().catch(() => {});
  await server?.stop();
});

describe("results and uniqueness under the shipped permissions", { skip, timeout: 60_000 }, () => {
  test("producer and worker credentials suffice for results and uniqueness keys", async () => {
    const queue = uniqueName("perm");
    await admin.queues.declare(queue);
    worker = await WorkerProcess.start(server.url, {
      NATS_USER: DEV_USERS.worker.user,
      NATS_PASSWORD: DEV_USERS.worker.password,
      JETMESH_QUEUES: queue,
      JETMESH_HANDLERS: "workers/handlers/examples.ts",
    });
    const unique = { key: "report-2026-06" };
    const first = await producer.enqueue(
      queue,
      "report.generate",
      { reportId: "r1", steps: 2 },
      { unique, result: true },
    );
    const second = await producer.enqueue(queue, "report.generate", { reportId: "r1", steps: 2 }, { unique });
    assert.deepEqual([second.jobId, second.duplicate], [first.jobId, true]);
    assert.deepEqual(await producer.result(first.jobId, { timeoutMs: 30_000 }), { reportId: "r1", steps: 2 });
    assert.equal((await producer.jobState(first.jobId))?.progress, 100);
    // The worker released the key.
    const kv = await new Kvm(admin.nc).open(uniqueBucket(new Subjects()));
    const hash = createHash("sha256").update(unique.key).digest("hex").slice(0, 32);
    await waitFor(
      async () => (await kv.get(`${queue}.${hash}`))?.json<{ state: string }>().state === "done",
      "the key released",
    );
    await assert.rejects(
      producer.enqueueAndWait(queue, "payment.charge", {
        orderId: "o1",
        amountCents: 100,
        card: DECLINED_CARD,
      }),
      (error: unknown) => error instanceof JobFailedError && error.errorClass === "PermanentJobError",
    );
    const denied = server.log.split("\n").filter((line) => /Violation/.test(line));
    assert.deepEqual(denied, [], "results and uniqueness need nothing the roles lack");
  });

  test("a producer still cannot write the control or attempts buckets", async () => {
    for (const subject of ["$KV.jetmesh_control.paused.x", "$KV.jetmesh_attempts.x"]) {
      producer.nc.publish(subject, "{}");
      await waitFor(
        () =>
          new RegExp(
            `Publish Violation - User "producer", Subject "${subject.replace(/\$/g, "\\$").replace(/\./g, "\\.")}"`,
          ).test(server.log),
        `the violation on ${subject}`,
        10_000,
      );
    }
  });
});
