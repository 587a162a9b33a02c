// Acceptance: on a 3-node cluster with a 3-replica queue, 5,000 jobs each complete while the node
// leading the queue's consumer is killed with SIGKILL and restarted midway; none is lost, and every
// duplicate execution (at-least-once) is counted and reported.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { type JetStreamManager, jetstreamManager, StorageType } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { findNatsServerBinary } from "../../deploy/local/nats-server.ts";
import { JetmeshClient, type JobToEnqueue } from "../../runtime/index.ts";
import {
  LEDGER_STREAM,
  type LedgerEntry,
  NatsCluster,
  uniqueName,
  WorkerProcess,
  waitFor,
} from "../support/harness.ts";

const JOBS = 5000;
const FIRST_BATCH = 4000;
const KILL_AFTER_COMPLETED = 500;
const CONCURRENCY = 32;

const skip = findNatsServerBinary() === undefined ? "nats-server is not installed" : false;

/**
 * The ledger, read incrementally by stream sequence (the stream only grows). Direct reads recover
 * from a node's death by themselves; an ordered consumer placed on the killed node may not.
 */
class LedgerTally {
  readonly runs = new Map<string, number>();
  readonly pids = new Set<number>();
  entries = 0;
  #nextSeq = 1;

  constructor(private readonly jsm: JetStreamManager) {}

  get distinct(): number {
    return this.runs.size;
  }

  /** Reads what was stored since the last call; returns the number of distinct jobs seen. */
  async refresh(): Promise<number> {
    const info = await this.jsm.streams.info(LEDGER_STREAM).catch(() => undefined);
    const last = info?.state.last_seq ?? 0;
    while (this.#nextSeq <= last) {
      const upTo = Math.min(last, this.#nextSeq + 199);
      const reads = [];
      for (let seq = this.#nextSeq; seq <= upTo; seq++) {
        reads.push(this.jsm.streams.getMessage(LEDGER_STREAM, { seq }));
      }
      const batch = await Promise.all(reads).catch(() => undefined);
      // A failed or missing read is tried again on the next call.
      if (batch === undefined || batch.some((msg) => msg === null)) break;
      for (const msg of batch) {
        const entry = msg!.json<LedgerEntry>();
        this.entries++;
        this.pids.add(entry.pid);
        this.runs.set(entry.jobId, (this.runs.get(entry.jobId) ?? 0) + 1);
      }
      this.#nextSeq = upTo + 1;
    }
    return this.distinct;
  }
}

let cluster: NatsCluster;
let client: JetmeshClient;
let observer: NatsConnection;
const workers: WorkerProcess[] = [];

before(async () => {
  if (skip) return;
  cluster = await NatsCluster.start(3);
  client = await JetmeshClient.connect({ connection: { servers: cluster.urls } });
  observer = await connect({ servers: cluster.urls, maxReconnectAttempts: -1 });
  // The fixture handlers record every run here; replicated like the queue, so the kill spares it.
  await (await jetstreamManager(observer)).streams.add({
    name: LEDGER_STREAM,
    subjects: ["ledger.>"],
    num_replicas: 3,
    storage: StorageType.File,
  });
});

after(async () => {
  await Promise.all(workers.map((worker) => worker.kill()));
  await observer?.close().catch(() => {});
  await client?.close().catch(() => {});
  await cluster?.stop();
});

/** Enqueues with stable job ids, retrying while the cluster is recovering (retries de-duplicate). */
async function enqueueAll(jobs: JobToEnqueue[]): Promise<number> {
  let failures = 0;
  for (let start = 0; start < jobs.length; start += 500) {
    const window = jobs.slice(start, start + 500);
    for (;;) {
      try {
        await client.enqueueMany(window);
        break;
      } catch {
        failures++;
        assert.ok(failures < 60, "enqueue keeps failing while a majority of nodes is up");
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  }
  return failures;
}

test("5,000 jobs on an R3 queue survive kill -9 and restart of a node midway: none lost", {
  skip,
  timeout: 90_000,
}, async (t) => {
  const startedAt = Date.now();
  const queue = uniqueName("cluster");
  const settings = await client.queues.declare(queue, { replicas: 3, ackWaitMs: 4000 });
  const jsm = await jetstreamManager(observer);
  const streamInfo = await jsm.streams.info(settings.stream);
  assert.equal(streamInfo.config.num_replicas, 3);
  assert.equal((streamInfo.cluster?.replicas?.length ?? 0) + 1, 3, "the queue stream has three copies");

  // One worker per node: each is given a single node's URL (it learns the others from the cluster).
  const started = await Promise.all(
    cluster.urls.map((url) =>
      WorkerProcess.start(url, { JETMESH_QUEUES: queue, JETMESH_CONCURRENCY: String(CONCURRENCY) }),
    ),
  );
  workers.push(...started);
  const live = new LedgerTally(jsm);

  const jobs: JobToEnqueue[] = Array.from({ length: JOBS }, (_, i) => ({
    queue,
    name: "record",
    payload: { i },
    options: { jobId: `${queue}-job-${i}` },
  }));
  await enqueueAll(jobs.slice(0, FIRST_BATCH));
  await waitFor(
    async () => (await live.refresh()) >= KILL_AFTER_COMPLETED,
    "the first jobs to complete",
    60_000,
  );

  // The node leading the queue's consumer: the one that hands out jobs and receives the acks.
  const consumerInfo = await jsm.consumers.info(settings.stream, settings.consumer);
  const leaderName = consumerInfo.cluster?.leader;
  const victimIndex = Math.max(
    0,
    cluster.servers.findIndex((_, index) => `n${index + 1}` === leaderName),
  );
  const victim = cluster.servers[victimIndex]!;
  const completedAtKill = live.distinct;
  await victim.kill("SIGKILL");
  const killedAt = Date.now();

  // The rest is enqueued while the node is down: two of three replicas are a majority.
  const enqueueRetries = await enqueueAll(jobs.slice(FIRST_BATCH));
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, 2000 - (Date.now() - killedAt))));
  await victim.restart();
  const restartedAt = Date.now();

  await waitFor(async () => (await live.refresh()) >= JOBS, `all ${JOBS} jobs to complete`, 70_000, 100);
  const completedAt = Date.now();

  const expected = new Set(jobs.map((job) => job.options?.jobId));
  const unknown = [...live.runs.keys()].filter((id) => !expected.has(id));
  const missing = [...expected].filter((id) => id !== undefined && !live.runs.has(id));
  const duplicates = [...live.runs.values()].filter((count) => count > 1).length;
  t.diagnostic(
    `killed node n${victimIndex + 1} (consumer leader ${leaderName ?? "unknown"}) after ${completedAtKill} completions; ` +
      `down ${restartedAt - killedAt} ms; enqueue retries while down: ${enqueueRetries}`,
  );
  t.diagnostic(
    `${live.distinct} distinct jobs completed in ${completedAt - startedAt} ms; ${live.entries} executions; ` +
      `${duplicates} jobs ran more than once (at-least-once delivery); worker pids: ${[...live.pids].join(", ")}`,
  );
  assert.deepEqual(missing, [], "no job lost");
  assert.deepEqual(unknown, [], "no execution of a job that was never enqueued");
  assert.equal(live.distinct, JOBS);
  // Duplicates come only from jobs in flight around the kill: bounded by the fleet's slots.
  assert.ok(
    duplicates <= started.length * CONCURRENCY * 2,
    `duplicates (${duplicates}) stay within the jobs that could be in flight at the kill`,
  );

  await waitFor(
    async () => {
      const info = await jsm.consumers.info(settings.stream, settings.consumer).catch(() => undefined);
      return info !== undefined && info.num_pending === 0 && info.num_ack_pending === 0;
    },
    "the consumer to have nothing left to deliver",
    20_000,
    250,
  );
  // The restarted node catches up: all three copies of the queue are current again.
  await waitFor(
    async () => {
      const info = await jsm.streams.info(settings.stream).catch(() => undefined);
      const replicas = info?.cluster?.replicas ?? [];
      return replicas.length === 2 && replicas.every((replica) => replica.current && !replica.offline);
    },
    "the restarted node's replica to be current",
    20_000,
    250,
  );
  for (const worker of started) assert.equal(worker.child.exitCode, null, "every worker survived");
  assert.ok(live.pids.size >= 2, "jobs ran on several workers");
});
