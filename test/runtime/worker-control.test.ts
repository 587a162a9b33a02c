// The worker's side of fleet control: the control bucket is the truth (late joiners obey it),
// broadcasts are acknowledged, cancelled jobs never run (again), heartbeats tell what runs.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { after, before, test } from "node:test";
import { Kvm } from "@nats-io/kv";
import {
  type CommandAck,
  type ControlCommand,
  ControlKey,
  controlBucket,
  type Heartbeat,
  jobKey,
  VERSION,
  Worker,
} from "../../runtime/index.ts";
import { closeFixtures, jobs as fixtureJobs } from "../fixtures/handlers.ts";
import {
  collectEvents,
  type MeshBundle,
  readLedger,
  setupMesh,
  streamMessages,
  waitFor,
} from "../support/harness.ts";

let mesh: MeshBundle;
const workers: Worker[] = [];

before(async () => {
  mesh = await setupMesh();
  process.env.NATS_URL = mesh.server.url;
});

after(async () => {
  for (const worker of workers) await worker.close(100);
  await closeFixtures();
  await mesh.close();
});

async function startWorker(extra: { heartbeatIntervalMs?: number } = {}): Promise<Worker> {
  const worker = await Worker.start({
    connection: { servers: mesh.server.url },
    queues: [mesh.queue],
    jobs: fixtureJobs,
    concurrency: 4,
    heartbeatIntervalMs: extra.heartbeatIntervalMs ?? 200,
  });
  workers.push(worker);
  return worker;
}

async function control() {
  return new Kvm(mesh.nc).open(controlBucket("jetmesh"));
}

async function broadcast(command: ControlCommand): Promise<CommandAck[]> {
  const replies = await mesh.nc.requestMany(`jetmesh.ctl.${command.type}`, JSON.stringify(command), {
    maxWait: 1000,
  });
  const acks: CommandAck[] = [];
  for await (const reply of replies) acks.push(reply.json<CommandAck>());
  return acks;
}

test("a paused queue starts no job, a worker started while paused stays paused, resume restarts them", async () => {
  const kv = await control();
  const first = await startWorker();
  const pause: ControlCommand = { type: "pause", id: "c1", queue: mesh.queue, by: "test", at: Date.now() };
  await kv.put(ControlKey.pausedQueue(mesh.queue), JSON.stringify(pause));
  const acks = await broadcast(pause);
  assert.deepEqual(
    acks.map((a) => [a.workerId, a.result]),
    [[first.id, "paused"]],
  );
  const late = await startWorker();
  const { jobId } = await mesh.client.enqueue(mesh.queue, "record", {});
  // Both workers report the queue paused in their heartbeats, and the job waits.
  const heartbeats = new Map<string, Heartbeat>();
  const sub = mesh.nc.subscribe("jetmesh.hb.*", {
    callback: (_e, m) => {
      heartbeats.set(m.json<Heartbeat>().workerId, m.json<Heartbeat>());
    },
  });
  await waitFor(
    () => [first.id, late.id].every((id) => heartbeats.get(id)?.queues[0]?.paused === true),
    "both workers to report the queue paused",
  );
  assert.equal(await streamMessages(mesh.jsm, mesh.stream), 1, "the job waits");
  assert.equal((await readLedger(mesh.nc)).filter((e) => e.jobId === jobId).length, 0);

  await kv.delete(ControlKey.pausedQueue(mesh.queue));
  await waitFor(
    async () => (await readLedger(mesh.nc)).some((e) => e.jobId === jobId),
    "the job to run after resume",
  );
  await waitFor(
    () => [first.id, late.id].every((id) => heartbeats.get(id)?.queues[0]?.paused === false),
    "both workers to report the queue resumed",
  );
  sub.unsubscribe();
  await Promise.all([first.close(), late.close()]);
});

test("a pause ends the worker's pull requests on the server: a job enqueued meanwhile is never delivered", async () => {
  const kv = await control();
  const worker = await startWorker();
  const consumer = () => mesh.jsm.consumers.info(mesh.stream, "workers");
  await waitFor(async () => (await consumer()).num_waiting > 0, "the idle worker's pull request");
  const pause: ControlCommand = {
    type: "pause",
    id: "c-pull",
    queue: mesh.queue,
    by: "test",
    at: Date.now(),
  };
  await kv.put(ControlKey.pausedQueue(mesh.queue), JSON.stringify(pause));
  assert.deepEqual(
    (await broadcast(pause)).map((a) => a.result),
    ["paused"],
  );
  // A request left waiting would deliver the next job, which the paused worker would hand back
  // (stored again) over and over until the request expired (30 s).
  await waitFor(async () => (await consumer()).num_waiting === 0, "no pull request left waiting", 10_000);
  const before = (await consumer()).delivered.stream_seq;
  await mesh.client.enqueue(mesh.queue, "record", {});
  await mesh.nc.flush();
  const info = await consumer();
  assert.equal(info.num_pending, 1, "the job waits in the queue");
  assert.equal(info.delivered.stream_seq, before, "nothing was delivered while paused");
  await kv.delete(ControlKey.pausedQueue(mesh.queue));
  await waitFor(async () => (await consumer()).num_pending === 0, "the job to be taken after resume");
  await worker.close();
});

test("cancelling a running job aborts its handler; it is not retried", async () => {
  const events = collectEvents(mesh.nc, mesh.queue);
  const worker = await startWorker();
  const { jobId } = await mesh.client.enqueue(mesh.queue, "hang", {});
  await waitFor(() => events.some((e) => e.jobId === jobId && e.type === "started"), "the job to start");
  const kv = await control();
  const cancel: ControlCommand = { type: "cancel", id: "c2", jobId, by: "test", at: Date.now() };
  await kv.put(ControlKey.cancelledJob(jobKey(jobId)), JSON.stringify(cancel));
  // The bucket's watch may abort the run before the broadcast arrives: either way one worker answers.
  const acks = await broadcast(cancel);
  assert.deepEqual(
    acks.map((a) => a.workerId),
    [worker.id],
  );
  const [run] = await waitFor(async () => {
    const runs = (await readLedger(mesh.nc)).filter((e) => e.jobId === jobId);
    return runs.length > 0 ? runs : undefined;
  }, "the handler to see the abort");
  assert.equal(run?.note, "aborted: JobAbortedError");
  await waitFor(() => events.some((e) => e.jobId === jobId && e.type === "cancelled"), "the cancelled event");
  await waitFor(
    async () => (await streamMessages(mesh.jsm, mesh.stream)) === 0,
    "the job to leave the queue",
  );
  assert.equal(events.filter((e) => e.jobId === jobId && e.type === "started").length, 1, "never retried");
  await worker.close();
});

test("a job cancelled while waiting never runs", async () => {
  const events = collectEvents(mesh.nc, mesh.queue);
  const { jobId } = await mesh.client.enqueue(mesh.queue, "record", {});
  const kv = await control();
  await kv.put(ControlKey.cancelledJob(jobKey(jobId)), JSON.stringify({ by: "test", at: Date.now() }));
  const worker = await startWorker();
  await waitFor(() => events.some((e) => e.jobId === jobId && e.type === "cancelled"), "the cancelled event");
  assert.equal(events.filter((e) => e.jobId === jobId && e.type === "started").length, 0);
  assert.equal((await readLedger(mesh.nc)).filter((e) => e.jobId === jobId).length, 0);
  await worker.close();
});

test("heartbeats list the running jobs; a drain command closes the worker", async () => {
  const worker = await startWorker();
  const seen: Heartbeat[] = [];
  const sub = mesh.nc.subscribe(`jetmesh.hb.${worker.id}`, {
    callback: (_e, m) => {
      seen.push(m.json<Heartbeat>());
    },
  });
  const { jobId } = await mesh.client.enqueue(mesh.queue, "slow", { ms: 1500 });
  const beat = await waitFor(
    () => seen.find((h) => h.jobs.some((j) => j.jobId === jobId)),
    "a heartbeat with the job",
  );
  assert.equal(beat.version, VERSION);
  assert.equal(beat.pid, process.pid);
  assert.equal(beat.jobs[0]?.name, "slow");
  assert.equal(beat.queues[0]?.concurrency, 4);

  const drain: ControlCommand = { type: "drain", id: "c3", workerId: worker.id, by: "test", at: Date.now() };
  await (await control()).put(ControlKey.drain(worker.id), JSON.stringify(drain));
  const acks = await broadcast(drain);
  assert.deepEqual(
    acks.map((a) => a.result),
    ["draining"],
  );
  await worker.closed;
  assert.ok(
    (await readLedger(mesh.nc)).some((e) => e.jobId === jobId),
    "the running job finished before exit",
  );
  assert.ok(
    seen.some((h) => h.state === "draining"),
    "heartbeats said draining while the job finished",
  );
  await waitFor(() => seen.at(-1)?.state === "stopped", "the last heartbeat to say stopped");
  sub.unsubscribe();
});

test("VERSION matches package.json", async () => {
  const pkg = JSON.parse(await readFile("package.json", "utf8")) as { version: string };
  assert.equal(VERSION, pkg.version);
});
