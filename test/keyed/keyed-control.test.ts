// Fleet control over keyed jobs: a paused queue starts no keyed job and resumes in order; a
// cancelled keyed job never runs and its key moves on; a worker that shuts down mid-job hands the
// job back in place and gives its partitions up, so another worker runs it next, before the key's
// later jobs, without charging it an attempt.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Kvm } from "@nats-io/kv";
import {
  ControlKey,
  controlBucket,
  createLogger,
  defineJob,
  type JobDefinition,
  jobKey,
  Worker,
} from "../../runtime/index.ts";
import { collectEvents, type MeshBundle, setupMesh, waitFor } from "../support/harness.ts";
import { partitionOwners } from "./support.ts";

const PARTITIONS = 2;

let mesh: MeshBundle;
const workers: Worker[] = [];

before(async () => {
  mesh = await setupMesh({ ackWaitMs: 2000, keyPartitions: PARTITIONS });
});

after(async () => {
  for (const worker of workers) await worker.close(100);
  await mesh.close();
});

interface Run {
  worker: string;
  key: string;
  index: number;
  attempt: number;
}

/** A `step` job recording each run; `blocks` says which runs wait until they are aborted. */
function stepJob(
  runs: Run[],
  worker: string,
  blocks: (key: string, index: number) => boolean = () => false,
): JobDefinition<{ key: string; index: number }> {
  return defineJob<{ key: string; index: number }>({
    name: "step",
    run: async ({ key, index }, ctx) => {
      runs.push({ worker, key, index, attempt: ctx.attempt });
      if (!blocks(key, index)) return;
      await new Promise((_resolve, reject) =>
        ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason)),
      );
    },
  });
}

async function startWorker(job: JobDefinition<any>): Promise<Worker> {
  const worker = await Worker.start({
    connection: { servers: mesh.server.url },
    queues: [mesh.queue],
    jobs: [job],
    concurrency: 4,
    logger: createLogger({}, { JETMESH_LOG_LEVEL: "silent" }),
  });
  workers.push(worker);
  return worker;
}

function enqueue(key: string, indexes: number[]) {
  return mesh.client.enqueueMany(
    indexes.map((index) => ({
      queue: mesh.queue,
      name: "step",
      payload: { key, index },
      options: { key, jobId: `${mesh.queue}-${key}-${index}` },
    })),
  );
}

const indexesOf = (runs: Run[], key: string) => runs.filter((run) => run.key === key).map((run) => run.index);

test("paused: no keyed job starts; resumed: they run in order, and a cancelled one is skipped", async () => {
  const kv = await new Kvm(mesh.nc).open(controlBucket("jetmesh"));
  await kv.put(ControlKey.pausedQueue(mesh.queue), JSON.stringify({ by: "test", at: Date.now() }));
  await kv.put(
    ControlKey.cancelledJob(jobKey(`${mesh.queue}-a-1`)),
    JSON.stringify({ by: "test", at: Date.now() }),
  );
  const events = collectEvents(mesh.nc, mesh.queue);
  await enqueue("a", [0, 1, 2, 3]);
  await enqueue("b", [0, 1]);

  const runs: Run[] = [];
  const worker = await startWorker(stepJob(runs, "w1"));
  await waitFor(
    async () =>
      (await partitionOwners(mesh.nc, mesh.queue, PARTITIONS)).every((owner) => owner === worker.id),
    "the worker to own both partitions",
  );
  // Owning a partition makes its consumer; paused, the worker asks it for nothing.
  const consumers = [];
  for await (const info of mesh.jsm.consumers.list(mesh.stream)) consumers.push(info);
  const keyed = consumers.filter((info) => info.name.startsWith("keyed-"));
  assert.equal(keyed.length, PARTITIONS);
  assert.deepEqual(
    keyed.map((info) => info.delivered.stream_seq),
    keyed.map(() => 0),
    "nothing was delivered while paused",
  );
  assert.deepEqual(runs, []);

  await kv.delete(ControlKey.pausedQueue(mesh.queue));
  await waitFor(() => runs.length >= 5, "the five jobs not cancelled to run");
  assert.deepEqual(indexesOf(runs, "a"), [0, 2, 3], "a's cancelled job was skipped and a moved on");
  assert.deepEqual(indexesOf(runs, "b"), [0, 1]);
  await waitFor(
    () => events.some((event) => event.jobId === `${mesh.queue}-a-1` && event.type === "cancelled"),
    "the cancelled event",
  );
  await worker.close();
});

test("a worker shutting down mid-job hands it back in place; the next owner runs it first, attempt 1", async () => {
  const runs: Run[] = [];
  const first = await startWorker(stepJob(runs, "w1", (key, index) => key === "c" && index === 0));
  await enqueue("c", [0, 1, 2]);
  await waitFor(() => runs.some((run) => run.key === "c"), "c's first job to start");
  const second = await startWorker(stepJob(runs, "w2"));
  await first.close(200);

  await waitFor(() => indexesOf(runs, "c").length >= 4, "c's jobs to run on the other worker");
  assert.deepEqual(
    runs.filter((run) => run.key === "c").map((run) => `${run.worker}:${run.index}:${run.attempt}`),
    ["w1:0:1", "w2:0:1", "w2:1:1", "w2:2:1"],
  );
  assert.ok(
    (await partitionOwners(mesh.nc, mesh.queue, PARTITIONS)).every((owner) => owner === second.id),
    "the remaining worker owns every partition",
  );
});
