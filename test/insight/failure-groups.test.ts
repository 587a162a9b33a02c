// Acceptance 4 against a real worker process: thirty failures from three distinct causes — their
// messages differing in ids, numbers and quoted values — form three groups, and "retry group"
// re-runs the jobs of exactly one; "purge group" drops exactly one. Plus the fingerprint rules.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { ControlPlane, DeadLetterRetryResult, FailureGroups } from "../../control-plane/index.ts";
import { fingerprint, normaliseMessage, topFrame } from "../../control-plane/insight/fingerprint.ts";
import { call, callError, parseJson, runCli, startControlPlane } from "../control-plane/support.ts";
import { type MeshBundle, readLedger, setupMesh, WorkerProcess, waitFor } from "../support/harness.ts";

let mesh: MeshBundle;
let cp: ControlPlane;
let worker: WorkerProcess;

before(async () => {
  mesh = await setupMesh();
  cp = await startControlPlane(mesh.server.url);
  worker = await WorkerProcess.start(mesh.server.url, {
    JETMESH_QUEUES: mesh.queue,
    JETMESH_CONCURRENCY: "4",
  });
});

after(async () => {
  await worker.kill();
  await cp.stop();
  await mesh.close();
});

const CAUSES = [
  (i: number) => ({
    errorClass: "TimeoutError",
    message: `upstream 10.0.${i}.7:443 timed out after ${3000 + i} ms`,
  }),
  (i: number) => ({
    errorClass: "ValidationError",
    message: `field "email-${i}" is invalid for user ${(0xabc0000 + i * 7919).toString(16)}f00d`,
  }),
  (i: number) => ({
    errorClass: "ValidationError",
    message: `order ${i * 31} not found in 'region-${i}'`,
  }),
];

const groups = () => call<FailureGroups>(cp, "failures.groups", { queue: mesh.queue });

test("the fingerprint ignores ids, numbers, quoted values and line numbers", () => {
  assert.equal(
    normaliseMessage(
      `job 4f1c2b3a-0d9e-4c7b-8a6f-112233445566 failed: "x" at 0x7fff after 12.5 s (sha 9e107d9d372bb682)`,
    ),
    "job <uuid> failed: <str> at <hex> after <n> s (sha <hex>)",
  );
  assert.equal(
    topFrame("Error: boom\n    at charge (/app/jobs/pay.ts:41:13)\n    at run (x.ts:1:1)"),
    "at charge (/app/jobs/pay.ts)",
  );
  const a = fingerprint("TimeoutError", "took 1200 ms", "E\n    at f (a.ts:1:2)");
  assert.equal(a.id, fingerprint("TimeoutError", "took 98 ms", "E\n    at f (a.ts:9:9)").id);
  assert.notEqual(
    a.id,
    fingerprint("TimeoutError", "took 98 ms", "E\n    at g (a.ts:1:2)").id,
    "another frame",
  );
  assert.notEqual(
    a.id,
    fingerprint("RangeError", "took 98 ms", "E\n    at f (a.ts:1:2)").id,
    "another class",
  );
});

test("thirty failures from three causes form three groups; retry group re-runs only one, purge group drops only one", async () => {
  const jobs = CAUSES.flatMap((cause) =>
    Array.from({ length: 10 }, (_, i) => ({
      queue: mesh.queue,
      name: "fail.with",
      payload: cause(i),
      options: { maxAttempts: 1 },
    })),
  );
  const enqueued = await mesh.client.enqueueMany(jobs);
  await waitFor(async () => (await groups()).total === 30, "thirty dead letters", 90_000);

  const listed = await groups();
  assert.equal(listed.groups.length, 3, JSON.stringify(listed.groups, null, 2));
  assert.deepEqual(
    listed.groups.map((g) => g.count),
    [10, 10, 10],
  );
  const timeout = listed.groups.find((g) => g.errorClass === "TimeoutError");
  assert.equal(timeout?.message, "upstream <n>:<n> timed out after <n> ms");
  assert.match(timeout?.topFrame ?? "", /^at /, "the top stack frame is part of the group");
  assert.deepEqual(timeout?.names, ["fail.with"]);
  const validation = listed.groups.filter((g) => g.errorClass === "ValidationError");
  assert.equal(validation.length, 2, "one class, two messages: two groups");

  const cli = await runCli(["failures", mesh.queue, "--server", mesh.server.url]);
  assert.equal(cli.code, 0, cli.stderr);
  for (const group of listed.groups)
    assert.match(cli.stdout, new RegExp(`${group.id}\\s+10\\s+${group.errorClass}`));

  // Retry the timeout group: its ten jobs run again (and fail again), the others do not.
  const timeoutIds = new Set(enqueued.slice(0, 10).map((r) => r.jobId));
  const retried = parseJson<DeadLetterRetryResult>(
    await runCli([
      "dlq",
      "retry",
      "--group",
      timeout!.id,
      "--queue",
      mesh.queue,
      "--json",
      "--server",
      mesh.server.url,
    ]),
  );
  assert.equal(retried.retried.length, 10);
  assert.ok(retried.retried.every((r) => timeoutIds.has(r.jobId)));
  await waitFor(async () => {
    const runs = await readLedger(mesh.nc);
    return runs.filter((e) => timeoutIds.has(e.jobId)).length === 20;
  }, "the ten timeout jobs to run a second time");
  await waitFor(async () => (await groups()).total === 30, "the retried jobs dead again");
  const runs = await readLedger(mesh.nc);
  const others = enqueued.slice(10).map((r) => r.jobId);
  for (const jobId of others)
    assert.equal(runs.filter((e) => e.jobId === jobId).length, 1, `job ${jobId} of another group ran once`);

  // Purge one validation group: only its ten letters go.
  const target = validation[0]!;
  const purged = await call(cp, "dlq.purge", { group: target.id, by: "ops" });
  assert.equal(purged.purged, 10);
  const after = await groups();
  assert.equal(after.total, 20);
  assert.deepEqual(
    after.groups.map((g) => g.id).sort(),
    listed.groups
      .filter((g) => g.id !== target.id)
      .map((g) => g.id)
      .sort(),
  );

  const missing = await callError(cp, "dlq.retry", { group: target.id });
  assert.equal(missing.code, "DEAD_LETTER_NOT_FOUND");
  assert.match(missing.hint ?? "", /jetmesh failures/);
  const audit = await call(cp, "audit.list", { queue: undefined });
  const groupActions = audit.entries.filter(
    (e: { target: { filter?: { group?: string } } }) => e.target.filter?.group,
  );
  assert.deepEqual(
    groupActions.map((e: { action: string; ok: boolean }) => `${e.action} ${e.ok}`),
    ["dlq.retry true", "dlq.purge true", "dlq.retry false"],
  );
});
