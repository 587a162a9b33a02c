// Acceptance 5: a pause with expiry resumes by itself — done by whichever control-plane replica
// sweeps first — while paused the status counts the jobs still finishing, and the audit log shows
// the pause, the resume and the workers that acknowledged each.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { AuditList, CommandResult, ControlPlane, QueueDetail } from "../../control-plane/index.ts";
import { call, parseJson, runCli, startControlPlane } from "../control-plane/support.ts";
import { type MeshBundle, readLedger, setupMesh, WorkerProcess, waitFor } from "../support/harness.ts";

let mesh: MeshBundle;
let cp: ControlPlane;
const workers: WorkerProcess[] = [];
const services: ControlPlane[] = [];

before(async () => {
  mesh = await setupMesh();
  // This replica never sweeps after its first tick: expiry must work through any other replica.
  cp = await startControlPlane(mesh.server.url, { sampleIntervalMs: 3_600_000, commandTimeoutMs: 3000 });
  services.push(cp);
  const env = { JETMESH_QUEUES: mesh.queue, JETMESH_HEARTBEAT_INTERVAL_MS: "300" };
  workers.push(
    ...(await Promise.all([
      WorkerProcess.start(mesh.server.url, env),
      WorkerProcess.start(mesh.server.url, env),
    ])),
  );
  await waitFor(async () => (await call(cp, "workers.list")).length === 2, "two live workers", 60_000);
});

after(async () => {
  for (const worker of workers) await worker.kill();
  for (const service of services) await service.stop();
  await mesh.close();
});

const cli = (...args: string[]) => runCli([...args, "--server", mesh.server.url]);

test("while paused, status counts the jobs still finishing", async () => {
  const { jobId } = await mesh.client.enqueue(mesh.queue, "hang", {});
  await waitFor(
    async () => (await call(cp, "jobs.running", { queue: mesh.queue })).total === 1,
    "the job running",
  );
  await call<CommandResult>(cp, "queues.pause", { queue: mesh.queue, by: "ops" });
  await waitFor(
    async () => (await call<QueueDetail>(cp, "queues.get", { queue: mesh.queue })).pause.finishing === 1,
    "one job finishing on a paused worker",
  );
  const human = await cli("status");
  assert.match(human.stdout, /paused \(1 finishing\)/);
  await call(cp, "jobs.cancel", { jobId, by: "ops" });
  await waitFor(
    async () => (await call<QueueDetail>(cp, "queues.get", { queue: mesh.queue })).pause.finishing === 0,
    "nothing left finishing",
  );
  await call(cp, "queues.resume", { queue: mesh.queue, by: "ops" });
});

test("pause --for resumes by itself through another replica; the audit log shows both and the acks", async () => {
  const paused = await cli(
    "pause",
    mesh.queue,
    "--for",
    "1s",
    "--by",
    "alice",
    "--reason",
    "deploy",
    "--json",
  );
  assert.equal(paused.code, 0, paused.stderr);
  const result = parseJson<CommandResult>(paused);
  assert.equal(result.acknowledged, 2, "both workers acknowledged the pause");
  const view = await call<QueueDetail>(cp, "queues.get", { queue: mesh.queue });
  assert.equal(view.pause.paused, true);
  assert.ok(view.pause.record?.expiresAt !== undefined, "the record carries its expiry");

  const sweeper = await startControlPlane(mesh.server.url, { commandTimeoutMs: 3000 });
  services.push(sweeper);
  await waitFor(
    async () => !(await call<QueueDetail>(cp, "queues.get", { queue: mesh.queue })).pause.paused,
    "the pause to expire",
  );
  await waitFor(
    async () => (await call<QueueDetail>(cp, "queues.get", { queue: mesh.queue })).workers.paused === 0,
    "workers running the queue again",
  );
  const { jobId } = await mesh.client.enqueue(mesh.queue, "record", {});
  await waitFor(
    async () => (await readLedger(mesh.nc)).some((e) => e.jobId === jobId),
    "a job run after the resume",
  );

  const audit = parseJson<AuditList>(await cli("audit", "--queue", mesh.queue, "--json"));
  const actions = audit.entries.map((e) => `${e.action} by ${e.by}`);
  // A cancel names a job, not a queue, so the queue filter leaves it out.
  assert.deepEqual(actions, [
    "queues.pause by ops",
    "queues.resume by ops",
    "queues.pause by alice",
    "queues.resume by pause-expiry",
  ]);
  const pause = audit.entries[2]!;
  const resume = audit.entries[3]!;
  assert.equal(pause.reason, "deploy");
  assert.ok(pause.expiresAt !== undefined);
  assert.equal(pause.acknowledgedBy?.length, 2);
  assert.equal(resume.replicaId, sweeper.replicaId, "the resume came from the sweeping replica");
  assert.deepEqual(resume.acknowledgedBy, pause.acknowledgedBy, "the same workers acknowledged the resume");

  const human = await cli("audit", "--queue", mesh.queue);
  assert.match(human.stdout, /queues\.resume .*acked by /);
  const everything = await call<AuditList>(cp, "audit.list", {});
  assert.ok(everything.entries.some((e) => e.action === "jobs.cancel" && e.target.jobId !== undefined));
});

test("a refused action is audited with the reason, an unknown caller as unknown", async () => {
  const reply = await cp.call("queues.pause", { queue: "no-such-queue" });
  assert.equal(reply.ok, false);
  const audit = await call<AuditList>(cp, "audit.list", { queue: "no-such-queue" });
  assert.equal(audit.entries.length, 1);
  assert.equal(audit.entries[0]?.by, "unknown");
  assert.equal(audit.entries[0]?.ok, false);
  assert.match(audit.entries[0]?.error ?? "", /no-such-queue/);
});

test("schedule actions are audited with the schedule and its queue", async () => {
  await call(cp, "schedules.create", {
    id: "nightly-report",
    queue: mesh.queue,
    name: "record",
    rule: { cron: "0 3 * * *" },
  });
  await call(cp, "schedules.pause", { id: "nightly-report" });
  await call(cp, "schedules.delete", { id: "nightly-report" });
  const audit = await call<AuditList>(cp, "audit.list", { queue: mesh.queue });
  const scheduled = audit.entries.filter((e) => e.target.scheduleId === "nightly-report");
  assert.deepEqual(
    scheduled.map((e) => e.action),
    ["schedules.create", "schedules.pause"],
    "a deleted schedule's queue is unknown to its reply, so only the first two match the queue",
  );
  const all = await call<AuditList>(cp, "audit.list", {});
  assert.ok(
    all.entries.some((e) => e.action === "schedules.delete" && e.target.scheduleId === "nightly-report"),
  );
});

test("a pause length the CLI cannot read is a usage error that says what to write", async () => {
  const result = await cli("pause", mesh.queue, "--for", "15 minutes");
  assert.equal(result.code, 2);
  assert.match(result.stderr + result.stdout, /cannot read the pause length "15 minutes"/);
  assert.match(result.stderr + result.stdout, /15m/);
});
