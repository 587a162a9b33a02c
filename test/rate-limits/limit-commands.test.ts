// The rate-limit commands: forms of --rate the CLI and API accept, clear errors for bad input,
// what `jetmesh limit list` shows, the audit entries, and a worker that starts after a limit was
// set obeying it from its first pull.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { ControlPlane } from "../../control-plane/index.ts";
import {
  defineJob,
  formatRate,
  JetmeshError,
  parseRate,
  Worker,
  WorkerMetrics,
} from "../../runtime/index.ts";
import {
  call,
  callError,
  parseJson,
  quietLogger,
  runCli,
  startControlPlane,
} from "../control-plane/support.ts";
import { type MeshBundle, setupMesh, waitFor } from "../support/harness.ts";

let mesh: MeshBundle;
let service: ControlPlane;
let env: Record<string, string>;

before(async () => {
  mesh = await setupMesh();
  service = await startControlPlane(mesh.server.url);
  env = { NATS_URL: mesh.server.url };
});

after(async () => {
  await service.stop();
  await mesh.close();
});

test("rates are read in the forms operators write and printed in the shortest", () => {
  assert.deepEqual(parseRate("10/s"), { limit: 10, intervalMs: 1000 });
  assert.deepEqual(parseRate("600/min"), { limit: 600, intervalMs: 60_000 });
  assert.deepEqual(parseRate("5/250ms"), { limit: 5, intervalMs: 250 });
  assert.deepEqual(parseRate("100/2s"), { limit: 100, intervalMs: 2000 });
  assert.deepEqual(parseRate(" 3 / h "), { limit: 3, intervalMs: 3_600_000 });
  assert.equal(formatRate({ limit: 10, intervalMs: 1000 }), "10/s");
  assert.equal(formatRate({ limit: 600, intervalMs: 60_000 }), "600/min");
  assert.equal(formatRate({ limit: 5, intervalMs: 250 }), "5/250ms");
  assert.equal(formatRate({ limit: 100, intervalMs: 2000 }), "100/2s");
  for (const [bad, says] of [
    ["10", /cannot read the rate "10"/],
    ["10/fortnight", /cannot read the rate/],
    ["0/s", /from 1 to/],
    ["1.5/s", /cannot read the rate/],
    ["10/10ms", /interval must be from 50ms to 1h/],
    ["10/2h", /interval must be from 50ms to 1h/],
  ] as const) {
    assert.throws(
      () => parseRate(bad),
      (error: unknown) => error instanceof JetmeshError && says.test(error.message),
      bad,
    );
  }
});

test("jetmesh limit set, list and rm: a queue-wide and a job-name limit, shown with their use, audited", async () => {
  const { queue } = mesh;
  const set = await runCli(["limit", "set", queue, "--rate", "600/min", "--reason", "smtp quota"], env);
  assert.equal(set.code, 0, set.stderr);
  assert.match(set.stdout, new RegExp(`limited ${queue} to 600/min`));
  const named = await runCli(
    ["limit", "set", queue, "--name", "email.bulk", "--rate", "5/250ms", "--json"],
    env,
  );
  assert.equal(named.code, 0, named.stderr);
  assert.deepEqual(
    { ...parseJson<object>(named), at: 0, by: "", window: null },
    { queue, name: "email.bulk", limit: 5, intervalMs: 250, rate: "5/250ms", at: 0, by: "", window: null },
  );

  const list = await runCli(["limit", "list"], env);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, new RegExp(`${queue}\\s+\\(all\\)\\s+600/min\\s+0/600\\s+.*smtp quota`));
  assert.match(list.stdout, new RegExp(`${queue}\\s+email\\.bulk\\s+5/250ms\\s+0/5`));

  const detail = await runCli(["queue", queue], env);
  assert.match(detail.stdout, /rate limits:\s+600\/min \(0 used now\); email\.bulk 5\/250ms \(0 used now\)/);

  const removed = await runCli(["limit", "rm", queue, "--name", "email.bulk"], env);
  assert.equal(removed.code, 0, removed.stderr);
  assert.deepEqual(
    (await call(service, "limits.list", { queue })).map((v: { rate: string }) => v.rate),
    ["600/min"],
  );
  const audit = await call(service, "audit.list", { queue });
  const actions = audit.entries.map((e: { action: string; rate?: string; target: { name?: string } }) =>
    [e.action, e.rate ?? "-", e.target.name ?? "-"].join(" "),
  );
  assert.deepEqual(actions, [
    "limits.set 600/min -",
    "limits.set 5/250ms email.bulk",
    "limits.remove - email.bulk",
  ]);
  await call(service, "limits.remove", { queue });
});

test("bad input gets an error naming what is wrong and what to do", async () => {
  const badRate = await runCli(["limit", "set", mesh.queue, "--rate", "10/fortnight"], env);
  assert.equal(badRate.code, 2);
  assert.match(
    badRate.stderr,
    /cannot read the rate "10\/fortnight": use <starts>\/<interval> such as 10\/s/,
  );

  const noRate = await runCli(["limit", "set", mesh.queue], env);
  assert.equal(noRate.code, 2);
  assert.match(noRate.stderr, /rate/);

  const unknown = await runCli(["limit", "set", "no-such-queue", "--rate", "1/s"], env);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /unknown queue "no-such-queue"/);

  const notSet = await runCli(["limit", "rm", mesh.queue, "--name", "never.limited"], env);
  assert.equal(notSet.code, 1);
  assert.match(notSet.stderr, /no rate limit is set on job name never\.limited of queue/);
  assert.match(notSet.stderr, /jetmesh limit list/);

  const badName = await callError(service, "limits.set", { queue: mesh.queue, name: "a..b", rate: "1/s" });
  assert.equal(badName.code, "INVALID_REQUEST");
  assert.match(badName.message, /invalid job name "a\.\.b"/);
  const both = await callError(service, "limits.set", {
    queue: mesh.queue,
    rate: "1/s",
    limit: 1,
    intervalMs: 1000,
  });
  assert.match(both.message, /not both/);
});

test("a worker started after a limit was set obeys it from its first pull, and says so in its metrics", async () => {
  const { queue } = mesh;
  // An hour's window: the test is over long before the next one could grant more.
  await call(service, "limits.set", { queue, limit: 3, intervalMs: 3_600_000 });
  const metrics = new WorkerMetrics({ defaultMetrics: false });
  const worker = await Worker.start({
    connection: mesh.nc,
    queues: [queue],
    jobs: [defineJob({ name: "noop", run: () => {} })],
    concurrency: 10,
    events: false,
    logger: quietLogger,
    metrics,
  });
  try {
    await mesh.client.enqueueMany(Array.from({ length: 8 }, () => ({ queue, name: "noop", payload: {} })));
    const listed = await waitFor(async () => {
      const [view] = await call(service, "limits.list", { queue });
      return view.window.used === 3 ? view : undefined;
    }, "the window's 3 permits to be granted");
    const { stream, consumer } = await mesh.client.queues.settings(queue);
    const info = await waitFor(async () => {
      const current = await mesh.jsm.consumers.info(stream, consumer);
      return current.num_ack_pending === 0 ? current : undefined;
    }, "the 3 admitted jobs to finish");
    assert.equal(listed.window.used, 3);
    assert.equal(info.num_pending, 5, "the other 5 wait in the stream, never delivered");
    assert.equal(info.delivered.consumer_seq, 3);
    const scraped = await metrics.registry.metrics();
    assert.match(scraped, new RegExp(`jetmesh_queue_rate_limited\\{queue="${queue}"\\} 1`));
    assert.match(scraped, new RegExp(`jetmesh_rate_limit_waiting_jobs\\{queue="${queue}"\\} 0`));
  } finally {
    await worker.close();
    await call(service, "limits.remove", { queue });
  }
});

test("a worker on a mesh declared before rate limits existed starts and runs jobs without limits", async () => {
  const { queue } = mesh;
  for (const bucket of ["jetmesh_limits", "jetmesh_permits"]) await mesh.jsm.streams.delete(`KV_${bucket}`);
  const worker = await Worker.start({
    connection: mesh.nc,
    queues: [queue],
    jobs: [defineJob({ name: "noop", run: () => {} })],
    events: false,
    logger: quietLogger,
  });
  try {
    await mesh.client.enqueue(queue, "noop", {});
    const { stream } = await mesh.client.queues.settings(queue);
    await waitFor(async () => (await mesh.jsm.streams.info(stream)).state.messages === 0, "the job to run");
    assert.deepEqual(await call(service, "limits.list"), []);
    const notDeclared = await callError(service, "limits.set", { queue, rate: "1/s" });
    assert.equal(notDeclared.code, "NOT_DECLARED");
  } finally {
    await worker.close();
  }
});
