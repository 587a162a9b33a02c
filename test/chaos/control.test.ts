// Duplicated and reordered control commands: broadcasts are hints, the control bucket is the
// truth. Whatever order pause/resume/cancel broadcasts arrive in, and however often, a worker
// ends in the state the bucket records. (Commands from credentials without the permission are
// refused by the server: test/deploy/permissions.test.ts.)
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Kvm } from "@nats-io/kv";
import fc from "fast-check";
import {
  type ControlCommand,
  ControlKey,
  controlBucket,
  createLogger,
  defineJob,
  type Heartbeat,
  JetmeshClient,
  jobKey,
  Worker,
} from "../../runtime/index.ts";
import { NatsServer, uniqueName, waitFor } from "../support/harness.ts";

let server: NatsServer;
let client: JetmeshClient;
let worker: Worker;
let queue: string;
const ran: string[] = [];
let latest: Heartbeat | undefined;

before(async () => {
  server = await NatsServer.start();
  client = await JetmeshClient.connect({ connection: { servers: server.url } });
  queue = uniqueName("ctl");
  await client.queues.declare(queue, { ackWaitMs: 5000 });
  worker = await Worker.start({
    connection: { servers: server.url },
    queues: [queue],
    heartbeatIntervalMs: 100,
    logger: createLogger({}, { JETMESH_LOG_LEVEL: "silent" }),
    jobs: [defineJob({ name: "work", run: (_payload, ctx) => void ran.push(ctx.id) })],
  });
  client.nc.subscribe(client.subjects.heartbeat(worker.id), {
    callback: (_error, msg) => {
      latest = msg.json<Heartbeat>();
    },
  });
});

after(async () => {
  await worker?.close(100);
  await client?.close();
  await server?.stop();
});

function command(type: "pause" | "resume", n: number): ControlCommand {
  return { type, id: `c${n}`, queue, by: "test", at: Date.now() };
}

/** Waits for a heartbeat sent after `since` that shows the queue paused (or not). */
function pausedAfter(since: number, paused: boolean) {
  return waitFor(
    () =>
      latest !== undefined &&
      latest.at > since &&
      latest.queues.find((q) => q.queue === queue)?.paused === paused,
    `a heartbeat showing the queue ${paused ? "paused" : "running"}`,
    20_000,
  );
}

test("replayed and reordered pause/resume broadcasts converge to the control bucket's state", async () => {
  const kv = await new Kvm(client.nc).open(controlBucket(client.subjects.prefix));
  const key = ControlKey.pausedQueue(queue);
  const scenarios = fc.sample(
    fc.record({
      paused: fc.boolean(),
      broadcasts: fc.array(fc.constantFrom("pause" as const, "resume" as const), {
        minLength: 1,
        maxLength: 8,
      }),
    }),
    { seed: 16, numRuns: 6 },
  );
  let n = 0;
  for (const { paused, broadcasts } of scenarios) {
    if (paused) await kv.put(key, JSON.stringify({ by: "test" }));
    else await kv.delete(key);
    // The last broadcast always contradicts the bucket: a stale command replayed late.
    for (const type of [...broadcasts, paused ? ("resume" as const) : ("pause" as const)]) {
      client.nc.publish(client.subjects.control(type), JSON.stringify(command(type, n++)));
    }
    await client.nc.flush();
    const since = Date.now();
    await pausedAfter(since, paused);
    if (!paused) {
      const { jobId } = await client.enqueue(queue, "work", {});
      await waitFor(() => ran.includes(jobId), "a job of the running queue to complete", 20_000);
    }
  }
  await kv.delete(key);
  await pausedAfter(Date.now(), false);
});

test("a cancel broadcast repeated and interleaved with pause/resume cancels once and for all", async () => {
  const kv = await new Kvm(client.nc).open(controlBucket(client.subjects.prefix));
  const jobId = uniqueName("job");
  await kv.put(ControlKey.cancelledJob(jobKey(jobId)), JSON.stringify({ by: "test" }));
  const cancel: ControlCommand = { type: "cancel", id: "x", jobId, by: "test", at: Date.now() };
  for (const type of ["cancel", "pause", "cancel", "resume", "cancel"] as const) {
    const body = type === "cancel" ? cancel : command(type, 100);
    client.nc.publish(client.subjects.control(type), JSON.stringify(body));
  }
  await client.nc.flush();
  await pausedAfter(Date.now(), false);
  const { jobId: control } = await client.enqueue(queue, "work", {});
  await client.enqueue(queue, "work", {}, { jobId });
  await waitFor(() => ran.includes(control), "a job enqueued beside the cancelled one to complete", 20_000);
  const stream = client.subjects.queueStream(queue);
  const jsm = await (await import("@nats-io/jetstream")).jetstreamManager(client.nc);
  await waitFor(async () => (await jsm.streams.info(stream)).state.messages === 0, "the queue to be empty");
  assert.ok(!ran.includes(jobId), "the cancelled job never ran");
});
