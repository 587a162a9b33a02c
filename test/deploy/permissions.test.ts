// Acceptance: with the users and permissions shipped in deploy/nats/accounts.conf, workers cannot
// command the fleet, producers cannot consume, and the control plane can do its job; a worker with
// worker credentials runs jobs end to end (success, retry, dead letter, progress, pause) without a
// single permission violation.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import {
  AuthorizationError,
  connect,
  type NatsConnection,
  PermissionViolationError,
} from "@nats-io/transport-node";
import { findNatsServerBinary, type NatsServer } from "../../deploy/local/nats-server.ts";
import {
  type ConnectionSettings,
  ControlKey,
  controlBucket,
  JetmeshClient,
  type LifecycleEvent,
  parseLifecycleEvents,
} from "../../runtime/index.ts";
import { DECLINED_CARD } from "../../workers/handlers/examples.ts";
import { DEV_USERS, type Role, startServerWithShippedAccounts } from "../support/accounts.ts";
import { uniqueName, WorkerProcess, waitFor } from "../support/harness.ts";

const skip = findNatsServerBinary() === undefined ? "nats-server is not installed" : false;

const USERS = DEV_USERS;

function as(role: Role): ConnectionSettings {
  return { servers: server.url, ...USERS[role] };
}

async function connectAs(role: Role): Promise<NatsConnection> {
  const nc = await connect({ servers: server.url, user: USERS[role].user, pass: USERS[role].password });
  connections.push(nc);
  return nc;
}

/** Permission violations the server reported to this connection (nats.js reports them as status). */
function violations(nc: NatsConnection): PermissionViolationError[] {
  const seen: PermissionViolationError[] = [];
  void (async () => {
    for await (const status of nc.status()) {
      if (status.type === "error" && status.error instanceof PermissionViolationError)
        seen.push(status.error);
    }
  })();
  return seen;
}

/** The PermissionViolationError behind a failed request or JetStream call, if that is the cause. */
function violationIn(error: unknown): PermissionViolationError | undefined {
  for (let cause = error; cause instanceof Error; cause = cause.cause) {
    if (cause instanceof PermissionViolationError) return cause;
  }
  return undefined;
}

async function assertDenied(what: Promise<unknown>, subjectPrefix: string, description: string) {
  const error = await what.then(
    () => undefined,
    (rejected: unknown) => rejected,
  );
  const violation = violationIn(error);
  assert.ok(
    violation,
    `${description}: expected a permission violation, got ${error === undefined ? "success" : String(error)}`,
  );
  assert.equal(violation.operation, "publish");
  assert.ok(violation.subject.startsWith(subjectPrefix), `${violation.subject} starts with ${subjectPrefix}`);
}

let server: NatsServer;
let admin: JetmeshClient;
const connections: NatsConnection[] = [];
const workers: WorkerProcess[] = [];

before(async () => {
  if (skip) return;
  // The shipped accounts file as it is; only the listener and storage are the test's own.
  server = await startServerWithShippedAccounts();
  admin = await JetmeshClient.connect({ connection: as("controlPlane") });
});

after(async () => {
  await Promise.all(workers.map((worker) => worker.kill()));
  await Promise.all(connections.map((nc) => nc.close().catch(() => {})));
  await admin?.close().catch(() => {});
  await server?.stop();
});

describe("shipped NATS users and permissions", { skip, timeout: 60_000 }, () => {
  test("a connection without credentials is refused (no anonymous user)", async () => {
    await assert.rejects(connect({ servers: server.url }), AuthorizationError);
  });

  test("a worker with worker credentials runs jobs end to end, obeys a pause and drains on SIGTERM", async () => {
    const queue = uniqueName("e2e");
    await admin.queues.declare(queue, { ackWaitMs: 5000 });
    const events: LifecycleEvent[] = [];
    const heartbeats: string[] = [];
    admin.nc.subscribe(`jetmesh.evt.${queue}.*`, {
      callback: (_error, msg) => {
        events.push(...parseLifecycleEvents(msg.data));
      },
    });
    admin.nc.subscribe("jetmesh.hb.*", {
      callback: (_error, msg) => {
        heartbeats.push(msg.subject);
      },
    });
    await admin.nc.flush();

    const worker = await WorkerProcess.start(server.url, {
      NATS_USER: USERS.worker.user,
      NATS_PASSWORD: USERS.worker.password,
      JETMESH_QUEUES: queue,
      JETMESH_HANDLERS: "workers/handlers/examples.ts",
      JETMESH_WORKER_ID: `perm-${queue}`,
    });
    workers.push(worker);

    const producer = await JetmeshClient.connect({ connection: as("producer") });
    try {
      const [email, flaky, payment, report] = await producer.enqueueMany([
        { queue, name: "email.send", payload: { to: "a@example.com", subject: "hello" } },
        { queue, name: "flaky.task", payload: { failAttempts: 1 } },
        {
          queue,
          name: "payment.charge",
          payload: { orderId: "o-1", amountCents: 100, card: DECLINED_CARD },
        },
        { queue, name: "report.generate", payload: { reportId: "r-1", steps: 2 } },
      ]);
      const outcome = (jobId: string | undefined, type: LifecycleEvent["type"]) =>
        events.some((event) => event.jobId === jobId && event.type === type);
      await waitFor(
        () =>
          outcome(email?.jobId, "completed") &&
          outcome(flaky?.jobId, "retrying") &&
          outcome(flaky?.jobId, "completed") &&
          outcome(payment?.jobId, "dead") &&
          outcome(report?.jobId, "progress") &&
          outcome(report?.jobId, "completed"),
        "every job to reach its outcome",
        20_000,
      );
      assert.ok(heartbeats.includes(`jetmesh.hb.perm-${queue}`), "heartbeats arrive");
      const dlq = await (await jetstreamManager(admin.nc)).streams.info("jetmesh_dlq");
      assert.ok(dlq.state.messages >= 1, "the declined payment is in the dead-letter stream");

      // Pause through the control plane: KV record first, then the broadcast the worker answers.
      const kv = await new Kvm(admin.nc).open(controlBucket("jetmesh"));
      await kv.put(ControlKey.pausedQueue(queue), JSON.stringify({ by: "test", at: Date.now() }));
      const reply = await admin.nc.request(
        "jetmesh.ctl.pause",
        JSON.stringify({ type: "pause", id: "p1", queue, by: "test", at: Date.now() }),
        { timeout: 5000 },
      );
      assert.equal(reply.json<{ result: string }>().result, "paused", "the worker acknowledged");
      await kv.delete(ControlKey.pausedQueue(queue));
    } finally {
      await producer.close();
    }

    await worker.kill("SIGTERM");
    assert.equal((await worker.exited).code, 0, "the worker drained and exited 0");
    // This test runs before the ones that provoke violations: the log must have none so far.
    const denied = server.log.split("\n").filter((line) => /Violation/.test(line));
    assert.deepEqual(denied, [], "the worker's and producer's real work needs nothing they lack");
  });

  test("the control plane declares queues, records and broadcasts control commands", async () => {
    const queue = uniqueName("cp");
    const settings = await admin.queues.declare(queue);
    assert.equal(settings.consumer, "workers");
    const kv = await new Kvm(admin.nc).open(controlBucket("jetmesh"));
    await kv.put(ControlKey.pausedQueue(queue), JSON.stringify({ by: "test", at: Date.now() }));
    await kv.delete(ControlKey.pausedQueue(queue));
    const seen = violations(admin.nc);
    const listener = await connectAs("controlPlane");
    const received: string[] = [];
    listener.subscribe("jetmesh.ctl.>", {
      callback: (_error, msg) => {
        received.push(msg.subject);
      },
    });
    await listener.flush();
    admin.nc.publish("jetmesh.ctl.pause", JSON.stringify({ type: "pause", id: "c1", queue }));
    await waitFor(() => received.includes("jetmesh.ctl.pause"), "the broadcast to arrive", 5000);
    assert.deepEqual(seen, []);
  });

  test("a worker's credentials cannot publish control commands, write the control bucket or empty a queue", async (t) => {
    const queue = uniqueName("deny");
    const { stream } = await admin.queues.declare(queue);
    const listener = await connectAs("controlPlane");
    const commands: string[] = [];
    listener.subscribe("jetmesh.ctl.>", {
      callback: (_error, msg) => {
        commands.push(msg.subject);
      },
    });
    await listener.flush();

    const nc = await connectAs("worker");
    const seen = violations(nc);
    nc.publish("jetmesh.ctl.pause", JSON.stringify({ type: "pause", id: "forged", queue }));
    const violation = await waitFor(
      () => seen.find((error) => error.subject === "jetmesh.ctl.pause"),
      "the permission violation to be reported",
      5000,
    );
    t.diagnostic(`worker publish to jetmesh.ctl.pause: ${violation.message}`);
    assert.equal(violation.operation, "publish");
    assert.match(violation.message, /Permissions Violation for Publish to "jetmesh\.ctl\.pause"/);
    assert.equal(nc.isClosed(), false, "a violation does not close the connection");
    // The server logs it with the user, for audit.
    await waitFor(
      () => /Publish Violation - User "worker", Subject "jetmesh\.ctl\.pause"/.test(server.log),
      "the server to log the violation",
      5000,
    );
    // A request fails at once with the violation as its cause, instead of timing out.
    await assertDenied(nc.request("jetmesh.ctl.drain", "{}", { timeout: 5000 }), "jetmesh.ctl.", "request");

    const kv = await new Kvm(nc).open(controlBucket("jetmesh"));
    await assertDenied(
      kv.put(ControlKey.pausedQueue(queue), "{}"),
      "$KV.jetmesh_control.",
      "control bucket write",
    );
    const jsm = await jetstreamManager(nc);
    await assertDenied(jsm.streams.purge(stream), "$JS.API.STREAM.PURGE.", "stream purge");
    await assertDenied(
      jsm.consumers.delete(stream, "workers"),
      "$JS.API.CONSUMER.DELETE.",
      "consumer delete",
    );

    await nc.flush();
    await listener.flush();
    assert.deepEqual(commands, [], "no forged command reached anyone");
    // The worker may still read the control bucket (it follows it).
    assert.equal(await kv.get(ControlKey.pausedQueue(queue)), null);
  });

  test("a producer's credentials enqueue jobs but cannot consume them", async () => {
    const queue = uniqueName("prod");
    const { stream } = await admin.queues.declare(queue);
    const producer = await JetmeshClient.connect({ connection: as("producer") });
    try {
      const result = await producer.enqueue(queue, "email.send", { to: "a@example.com", subject: "hi" });
      assert.equal(result.duplicate, false);

      const nc = await connectAs("producer");
      const seen = violations(nc);
      const pull = `$JS.API.CONSUMER.MSG.NEXT.${stream}.workers`;
      await assertDenied(
        nc.request(pull, JSON.stringify({ batch: 1, no_wait: true }), { timeout: 5000 }),
        pull,
        "pull request",
      );
      // Nor can it listen to job subjects directly, or command the fleet.
      nc.subscribe(`jetmesh.q.${queue}.>`);
      nc.publish("jetmesh.ctl.pause", "{}");
      await waitFor(
        () =>
          seen.some(
            (error) => error.operation === "subscription" && error.subject.startsWith("jetmesh.q."),
          ) && seen.some((error) => error.subject === "jetmesh.ctl.pause"),
        "both violations to be reported",
        5000,
      );
      const jsm = await jetstreamManager(admin.nc);
      const info = await jsm.consumers.info(stream, "workers");
      assert.equal(info.num_pending, 1, "the job is still waiting");
      assert.equal(info.num_ack_pending, 0, "nobody received it");
      assert.equal(info.delivered.stream_seq, 0);
    } finally {
      await producer.close();
    }
  });
});
