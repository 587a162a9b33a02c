// The command line's side of uniqueness and results: `jetmesh enqueue --unique-key
// --unique-window` refuses a second job for a held key, and `jetmesh job <id>` shows what the
// worker recorded for a job enqueued with `result: true`.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Kvm } from "@nats-io/kv";
import type { ControlPlane } from "../../control-plane/index.ts";
import { defineJob, resultsBucket, Subjects, Worker } from "../../runtime/index.ts";
import { parseJson, runCli, startControlPlane } from "../control-plane/support.ts";
import { type MeshBundle, setupMesh, streamMessages, uniqueName, waitFor } from "../support/harness.ts";

let mesh: MeshBundle;
let cp: ControlPlane;
let worker: Worker;
let jetmesh: (...args: string[]) => ReturnType<typeof runCli>;

before(async () => {
  mesh = await setupMesh();
  cp = await startControlPlane(mesh.server.url);
  worker = await Worker.start({
    connection: { servers: mesh.server.url },
    queues: [mesh.queue],
    jobs: [
      defineJob<{ to: string }>({
        name: "greet",
        run: ({ to }, context) => {
          context.progress(100);
          return { greeting: `hello ${to}` };
        },
      }),
    ],
  });
  await waitFor(async () => (await cp.call("workers.list")).ok, "the control plane");
  jetmesh = (...args: string[]) => runCli(["-s", mesh.server.url, ...args]);
});

after(async () => {
  await worker?.close(100);
  await cp?.stop();
  await mesh?.close();
});

test("enqueue --unique-key returns the holder's id for a second enqueue; bad flags are refused", async () => {
  const idle = uniqueName("idle");
  const { stream } = await mesh.client.queues.declare(idle);
  const args = [
    "enqueue",
    idle,
    "greet",
    "--data",
    '{"to":"ann"}',
    "--unique-key",
    "ann",
    "--unique-window",
    "1h",
  ];
  const first = await jetmesh(...args, "--json");
  assert.equal(first.code, 0, first.stderr);
  const { jobId, duplicate } = parseJson(first);
  assert.equal(duplicate, false);
  const second = await jetmesh(...args);
  assert.equal(second.code, 0, second.stderr);
  assert.match(
    second.stdout,
    new RegExp(`job ${jobId} holds unique key "ann" in ${idle}: nothing new stored`),
  );
  assert.equal(await streamMessages(mesh.jsm, stream), 1);
  const windowOnly = await jetmesh("enqueue", idle, "greet", "--unique-window", "1h");
  assert.notEqual(windowOnly.code, 0);
  assert.match(windowOnly.stderr, /--unique-window needs --unique-key/);
});

test("job <id> shows the recorded state, progress and result of a job enqueued with result: true", async () => {
  const result = await mesh.client.enqueue(mesh.queue, "greet", { to: "bo" }, { result: true });
  assert.deepEqual(await mesh.client.result(result.jobId, { timeoutMs: 30_000 }), { greeting: "hello bo" });
  const json = await jetmesh("job", result.jobId, "--json");
  assert.equal(json.code, 0, json.stderr);
  const lookup = parseJson(json);
  assert.equal(lookup.state, "completed");
  assert.deepEqual(lookup.recorded.result, { greeting: "hello bo" });
  assert.equal(lookup.recorded.progress, 100);
  const text = await jetmesh("job", result.jobId);
  assert.match(text.stdout, /recorded state:\s+completed/);
  assert.match(text.stdout, /result:\s+\{"greeting":"hello bo"\}/);
});

test("job <id> answers from the record alone once the job's other traces are gone", async () => {
  // A record whose job left no other trace (its recent outcome expired, say).
  const kv = await new Kvm(mesh.nc).open(resultsBucket(new Subjects()));
  const record = {
    jobId: "long-gone-1",
    queue: mesh.queue,
    name: "greet",
    state: "completed",
    attempt: 1,
    result: 7,
    at: Date.now(),
  };
  await kv.put("long-gone-1", JSON.stringify(record));
  const json = await jetmesh("job", "long-gone-1", "--json");
  assert.equal(json.code, 0, json.stderr);
  const lookup = parseJson(json);
  assert.deepEqual(
    [lookup.state, lookup.queue, lookup.name, lookup.recorded.result],
    ["completed", mesh.queue, "greet", 7],
  );
  // Without a record, the same lookup is a clear "not found".
  const missing = await jetmesh("job", "never-was-1");
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /not running, waiting, dead, cancelled or recently completed/);
});
