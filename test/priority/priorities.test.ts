// Priorities (issue #9, acceptance 2): a worker serving several queues from one budget of slots
// gives a freed slot to a high queue's job before the next job of a deep low backlog, serves
// queues in strict order or in proportion to their weights, and a paused queue blocks nobody.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import {
  defineJob,
  type Heartbeat,
  JetmeshClient,
  type LifecycleEvent,
  type PriorityOption,
  Worker,
} from "../../runtime/index.ts";
import { collectEvents, type NatsServer, startServer, uniqueName, waitFor } from "../support/harness.ts";

let server: NatsServer;
let client: JetmeshClient;
const workers: Worker[] = [];

before(async () => {
  server = await startServer();
  client = await JetmeshClient.connect({ connection: { servers: server.url } });
});

after(async () => {
  for (const worker of workers) await worker.close(100);
  await client.close();
  await server.stop();
});

/** What the handlers saw: the queue of every start, in order, and the most jobs running at once. */
class StartLog {
  readonly starts: { queue: string; jobId: string }[] = [];
  running = 0;
  maxRunning = 0;

  record(queue: string, jobId: string): void {
    this.starts.push({ queue, jobId });
    this.running++;
    this.maxRunning = Math.max(this.maxRunning, this.running);
  }

  finished(): void {
    this.running--;
  }

  queuesInOrder(): string[] {
    return this.starts.map((start) => start.queue);
  }
}

/** Declares `count` queues named after `labels`, returning their names in that order. */
async function declareQueues(labels: string[]): Promise<string[]> {
  const queues = labels.map((label) => uniqueName(label));
  for (const queue of queues) await client.queues.declare(queue);
  return queues;
}

async function fill(queue: string, name: string, count: number): Promise<void> {
  await client.enqueueMany(Array.from({ length: count }, (_, i) => ({ queue, name, payload: { i } })));
}

async function startWorker(
  queues: string[],
  priority: PriorityOption,
  concurrency: number,
  run: (queue: string, jobId: string) => Promise<void> | void,
): Promise<Worker> {
  const worker = await Worker.start({
    connection: client.nc,
    queues,
    priority,
    concurrency,
    jobs: [defineJob({ name: "work", run: (_payload, ctx) => run(ctx.queue, ctx.id) })],
    heartbeatIntervalMs: 200,
  });
  workers.push(worker);
  return worker;
}

test("with every slot busy on a deep low backlog, a high job takes the next slot that frees", async (t) => {
  const [high, low] = (await declareQueues(["high", "low"])) as [string, string];
  const log = new StartLog();
  /** Handlers of running jobs, waiting to be released by the test. */
  const waiting = new Map<string, () => void>();
  const release = (jobId: string) => {
    waiting.get(jobId)?.();
    waiting.delete(jobId);
  };
  await fill(low, "work", 3000);
  const concurrency = 3;
  await startWorker([high, low], "strict", concurrency, (queue, jobId) => {
    log.record(queue, jobId);
    return new Promise<void>((resolve) =>
      waiting.set(jobId, () => {
        log.finished();
        resolve();
      }),
    );
  });
  await waitFor(() => log.starts.length === concurrency, "every slot busy with a low job");

  // Counting: after the high job's enqueue is acknowledged, the test frees one low slot at a time
  // and counts the low jobs that start before the high one. Zero means the high job took the
  // very slot that freed first; one is the most a shared budget allows (a low job's pull already
  // on its way when the high job was stored).
  const lowStartsBefore: number[] = [];
  for (let round = 0; round < 8; round++) {
    const { jobId: highId } = await client.enqueue(high, "work", { round });
    const mark = log.starts.length;
    const highStarted = () => log.starts.findIndex((start) => start.jobId === highId);
    while (highStarted() < 0) {
      const oldestLow = log.starts.find((start) => start.queue === low && waiting.has(start.jobId));
      assert.ok(oldestLow, "a low job is running to be released");
      const before = log.starts.length;
      release(oldestLow.jobId);
      await waitFor(() => log.starts.length > before, "the freed slot to start a job");
    }
    lowStartsBefore.push(highStarted() - mark);
    release(highId);
    // The freed slot goes back to the low backlog: every slot is busy with a low job again.
    await waitFor(
      () => log.running === concurrency && log.starts.at(-1)?.queue === low,
      "a low job to refill",
    );
  }
  t.diagnostic(`low jobs started between each high enqueue and its start: ${lowStartsBefore.join(" ")}`);
  assert.ok(
    lowStartsBefore.every((count) => count <= 1),
    `a high job waited for more than one low job: ${lowStartsBefore.join(" ")}`,
  );
  assert.equal(log.maxRunning, concurrency, "the queues share one budget of slots");
  for (const jobId of [...waiting.keys()]) release(jobId);
});

test("strict priority drains three queues in order", async (t) => {
  const [critical, normal, low] = (await declareQueues(["critical", "default", "low"])) as [
    string,
    string,
    string,
  ];
  for (const queue of [low, normal, critical]) await fill(queue, "work", 40);
  const log = new StartLog();
  await startWorker([critical, normal, low], "strict", 4, async (queue, jobId) => {
    log.record(queue, jobId);
    await new Promise((resolve) => setImmediate(resolve));
    log.finished();
  });
  await waitFor(() => log.starts.length === 120, "all 120 jobs to start");
  const order = log.queuesInOrder();
  const lastOf = (queue: string) => order.lastIndexOf(queue);
  const firstOf = (queue: string) => order.indexOf(queue);
  t.diagnostic(
    `critical ${firstOf(critical)}-${lastOf(critical)}, default ${firstOf(normal)}-${lastOf(normal)}, low ${firstOf(low)}-${lastOf(low)}`,
  );
  assert.ok(lastOf(critical) < firstOf(normal), "no default job starts while critical jobs wait");
  assert.ok(lastOf(normal) < firstOf(low), "no low job starts while default jobs wait");
  assert.ok(log.maxRunning <= 4, "the queues share one budget of slots");
});

test("weights 6:3:1 share the slots among three backlogged queues", async (t) => {
  const [critical, normal, low] = (await declareQueues(["critical", "default", "low"])) as [
    string,
    string,
    string,
  ];
  for (const queue of [critical, normal, low]) await fill(queue, "work", 400);
  const log = new StartLog();
  const weights = { [critical]: 6, [normal]: 3, [low]: 1 };
  await startWorker([critical, normal, low], { weights }, 3, async (queue, jobId) => {
    log.record(queue, jobId);
    await new Promise((resolve) => setImmediate(resolve));
    log.finished();
  });
  // 300 starts take at most 180 jobs of any queue: all three stay backlogged throughout.
  await waitFor(() => log.starts.length >= 300, "300 starts");
  const first = log.queuesInOrder().slice(0, 300);
  const share = (queue: string) => first.filter((q) => q === queue).length;
  t.diagnostic(`of 300 starts: critical ${share(critical)}, default ${share(normal)}, low ${share(low)}`);
  // Exact shares would be 180/90/30; the bounds leave room for the pulls of a few slots in flight.
  assert.ok(share(critical) >= 150 && share(critical) <= 210, `critical got ${share(critical)}`);
  assert.ok(share(normal) >= 65 && share(normal) <= 115, `default got ${share(normal)}`);
  assert.ok(share(low) >= 15 && share(low) <= 45, `low got ${share(low)}`);
  assert.ok(log.maxRunning <= 3, "the queues share one budget of slots");
});

test("a paused high queue does not hold back the low one; resumed, it comes first again", async (t) => {
  const [high, low] = (await declareQueues(["high", "low"])) as [string, string];
  const log = new StartLog();
  const concurrency = 2;
  const worker = await startWorker([high, low], "strict", concurrency, async (queue, jobId) => {
    log.record(queue, jobId);
    await new Promise((resolve) => setImmediate(resolve));
    log.finished();
  });
  const heartbeats: Heartbeat[] = [];
  client.nc.subscribe(`jetmesh.hb.${worker.id}`, {
    callback: (_error, msg) => {
      heartbeats.push(msg.json<Heartbeat>());
    },
  });
  worker.pause(high);
  await fill(high, "work", 20);
  await fill(low, "work", 400);
  await waitFor(() => log.starts.length >= 20, "low jobs to start while high is paused");
  // The heartbeat shows each queue's own running jobs against the budget they share.
  const beat = await waitFor(
    () => heartbeats.find((h) => h.queues.find((q) => q.queue === high)?.paused),
    "a heartbeat with the high queue paused",
  );
  assert.deepEqual(
    beat.queues.map((q) => [q.queue, q.concurrency, q.paused]),
    [
      [high, concurrency, true],
      [low, concurrency, false],
    ],
  );
  assert.ok(beat.queues.reduce((sum, q) => sum + q.running, 0) <= concurrency);
  worker.resume(high);
  const mark = log.starts.length;
  assert.deepEqual(new Set(log.queuesInOrder()), new Set([low]), "only low jobs ran while high was paused");
  await waitFor(() => log.starts.filter((s) => s.queue === high).length === 20, "the 20 high jobs to start");
  const afterResume = log.queuesInOrder().slice(mark);
  const lastHigh = afterResume.lastIndexOf(high);
  t.diagnostic(`after resume the 20 high jobs started within the first ${lastHigh + 1} starts`);
  // Low pulls already on their way when it resumed (one per slot at most) may start first.
  assert.ok(
    lastHigh < 20 + concurrency,
    `low jobs kept starting ahead of resumed high ones: ${lastHigh + 1}`,
  );
});

test("shutdown hands back running and held jobs without charging an attempt", async () => {
  const [high, low] = (await declareQueues(["high", "low"])) as [string, string];
  const eventsOf = [high, low].map((queue) => collectEvents(client.nc, queue));
  const allEvents = (): LifecycleEvent[] => eventsOf.flat();
  const log = new StartLog();
  await fill(low, "work", 10);
  const blocking = await startWorker([high, low], "strict", 2, (queue, jobId) => {
    log.record(queue, jobId);
    return new Promise<void>(() => {}); // runs until shutdown hands it back
  });
  await waitFor(() => log.running === 2, "both slots busy");
  await client.enqueue(high, "work", {});
  await blocking.close(100);
  assert.equal(log.starts.length, 2, "nothing else started");
  // A plain worker (no priority) now runs everything: each job exactly once, on its first attempt.
  const done = new StartLog();
  const finisher = await Worker.start({
    connection: client.nc,
    queues: [high, low],
    jobs: [defineJob({ name: "work", run: (_payload, ctx) => done.record(ctx.queue, ctx.id) })],
  });
  workers.push(finisher);
  await waitFor(() => done.starts.length === 11, "all 11 jobs to run");
  await waitFor(() => allEvents().filter((e) => e.type === "completed").length === 11, "11 completions");
  const started = allEvents().filter((e) => e.type === "started");
  assert.ok(
    started.every((e) => e.attempt === 1),
    `every start was attempt 1: ${started.map((e) => e.attempt)}`,
  );
  assert.equal(new Set(done.starts.map((s) => s.jobId)).size, 11, "each job ran once");
});
