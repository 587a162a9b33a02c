// Acceptance (recurring schedules): runs missed while no scheduler ran are skipped or caught up
// once; invalid schedules get errors that say what is wrong; past due times run at once; the
// client and the CLI manage schedules through the same rules.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { ControlPlane } from "../../control-plane/index.ts";
import { InvalidScheduleError } from "../../runtime/index.ts";
import { call, callError, runCli, startControlPlane } from "../control-plane/support.ts";
import { type MeshBundle, setupMesh, waitFor } from "../support/harness.ts";
import { queuedJobs } from "./support.ts";

let mesh: MeshBundle;
let cp: ControlPlane;

before(async () => {
  mesh = await setupMesh();
  cp = await startControlPlane(mesh.server.url, { replicaId: "cp-schedules" });
});

after(async () => {
  await cp.stop();
  await mesh.close();
});

const jobsOf = async (scheduleId: string) =>
  (await queuedJobs(mesh.jsm, mesh.stream)).filter((job) => job.scheduleId === scheduleId);

test("runs missed while no scheduler ran: skip fires none, catch-up fires exactly one", async () => {
  const every = 1000;
  for (const missed of ["skip", "catch-up"] as const)
    await mesh.client.schedules.create({
      id: `missed-${missed}`,
      queue: mesh.queue,
      name: `tick.${missed}`,
      rule: { everyMs: every },
      missed,
    });
  await waitFor(async () => (await jobsOf("missed-skip")).length >= 2, "a few on-time runs");
  await cp.stop();
  const stoppedAt = Date.now();
  const lastBefore = Math.max(
    ...[...(await jobsOf("missed-skip")), ...(await jobsOf("missed-catch-up"))].map(
      (job) => job.dueAt as number,
    ),
  );
  // Three due times pass with no scheduler.
  await waitFor(() => Date.now() > stoppedAt + 3.5 * every, "three due times to pass", 10_000, 100);
  cp = await startControlPlane(mesh.server.url, { replicaId: "cp-schedules" });
  const status = await waitFor(async () => {
    const s = await call(cp, "scheduler.status");
    return s.active ? s : undefined;
  }, "the scheduler to become active");
  const activeSince = status.activeSince as number;
  await waitFor(
    async () => (await jobsOf("missed-skip")).some((job) => (job.dueAt as number) > activeSince),
    "runs after the restart",
  );
  await waitFor(
    async () => (await jobsOf("missed-catch-up")).some((job) => (job.dueAt as number) > activeSince),
    "catch-up runs after the restart",
  );
  const missedRuns = async (id: string) =>
    (await jobsOf(id)).filter(
      (job) => (job.dueAt as number) > lastBefore && (job.dueAt as number) <= activeSince,
    );
  assert.ok(activeSince - lastBefore >= 3 * every, "at least three due times were missed");
  assert.equal((await missedRuns("missed-skip")).length, 0, "skip fires none of the missed runs");
  const caughtUp = await missedRuns("missed-catch-up");
  assert.equal(caughtUp.length, 1, "catch-up fires exactly one run");
  // The catch-up run is the latest missed due time.
  assert.ok((caughtUp[0]?.dueAt as number) > activeSince - every);
  const view = await call(cp, "schedules.get", { id: "missed-catch-up" });
  assert.ok(view.state.lastFireAt > 0 && view.state.nextFireAt > view.state.lastDueAt);
  assert.match(view.state.lastJobId, /^sched-missed-catch-up-\d+$/);
  for (const missed of ["skip", "catch-up"]) await call(cp, "schedules.delete", { id: `missed-${missed}` });
});

test("invalid schedules are refused with errors that say what is wrong", async () => {
  const base = { queue: mesh.queue, name: "report.build" };
  const cases: [unknown, RegExp][] = [
    [{ ...base, id: "bad-minute", rule: { cron: "61 * * * *" } }, /minute: 61/],
    [{ ...base, id: "bad-hour", rule: { cron: "0 25 * * *" } }, /hour: 25/],
    [{ ...base, id: "bad-fields", rule: { cron: "* * * * * * *" } }, /7 fields: use 5 .* or 6/],
    [
      { ...base, id: "bad-zone", rule: { cron: "0 3 * * *", timezone: "Mars/Base" } },
      /unknown time zone "Mars\/Base"/,
    ],
    [{ ...base, id: "bad-interval", rule: { everyMs: 10 } }, /everyMs must be a whole number of ms ≥ 1000/],
    [{ ...base, id: "two-rules", rule: { everyMs: 5000, at: 1 } }, /exactly one of cron, everyMs or at/],
    [{ ...base, id: "ended", rule: { everyMs: 5000 }, endAt: Date.now() - 1000 }, /endAt is in the past/],
    [{ ...base, id: "bad id!", rule: { everyMs: 5000 } }, /id must be/],
    [
      { ...base, id: "bad-missed", rule: { everyMs: 5000 }, missed: "later" },
      /missed must be "skip" or "catch-up"/,
    ],
  ];
  for (const [spec, message] of cases) {
    const error = await callError(cp, "schedules.create", spec);
    assert.equal(error.code, "INVALID_REQUEST", JSON.stringify(spec));
    assert.match(error.message, message);
    await assert.rejects(mesh.client.schedules.create(spec as never), InvalidScheduleError);
  }
  const cli = await runCli([
    "schedule",
    "add",
    "nightly",
    mesh.queue,
    "report.build",
    "--cron",
    "0 3 * 13 *",
    "--server",
    mesh.server.url,
  ]);
  assert.equal(cli.code, 2);
  assert.match(cli.stderr, /Invalid value for month: 13/);
  assert.equal((await callError(cp, "schedules.get", { id: "nope" })).code, "SCHEDULE_NOT_FOUND");
});

test("past due times run at once: a one-time schedule and a delayed job", async () => {
  const past = Date.now() - 60_000;
  const view = await call(cp, "schedules.create", {
    id: "once-late",
    queue: mesh.queue,
    name: "report.once",
    rule: { at: past },
  });
  assert.ok(view.schedule.rule.at >= past, "a past time becomes the creation time");
  const [run] = await waitFor(async () => {
    const jobs = await jobsOf("once-late");
    return jobs.length > 0 ? jobs : undefined;
  }, "the one-time run");
  assert.equal(run?.dueAt, view.schedule.rule.at);
  const done = await waitFor(async () => {
    const v = await call(cp, "schedules.get", { id: "once-late" });
    return v.state.lastJobId !== undefined ? v : undefined;
  }, "the run to be recorded");
  assert.equal(done.state.nextFireAt, null, "a one-time schedule has no next run");

  const delayed = await mesh.client.enqueue(mesh.queue, "report.past", {}, { runAt: past });
  assert.equal(delayed.dueAt, undefined, "not delayed");
  const stored = (await queuedJobs(mesh.jsm, mesh.stream)).find((job) => job.jobId === delayed.jobId);
  assert.equal(stored?.dueAt, past, "stored in the queue at once, keeping its due time");
  await assert.rejects(
    mesh.client.enqueue(mesh.queue, "x", {}, { delay: -5 }),
    /delay must be a number of ms ≥ 0/,
  );
  await assert.rejects(
    mesh.client.enqueue(mesh.queue, "x", {}, { delay: 5, runAt: Date.now() }),
    /either delay or runAt/,
  );
  await assert.rejects(mesh.client.enqueue("no_such_queue", "x", {}, { delay: 5000 }), /no_such_queue/);
});

test("schedules are managed from the client and the CLI: create, update, pause, resume, run now, remove", async () => {
  const created = await mesh.client.schedules.create({
    id: "berlin-nightly",
    queue: mesh.queue,
    name: "report.nightly",
    payload: { kind: "nightly" },
    rule: { cron: "30 2 * * *", timezone: "Europe/Berlin" },
  });
  // 02:30 does not exist in Berlin on the spring-forward night; croner moves it to 03:30 CEST.
  assert.ok(created.state.nextFireAt !== null);
  const updated = await mesh.client.schedules.update("berlin-nightly", {
    rule: { cron: "0 12 * * *", timezone: "Europe/Berlin" },
  });
  assert.equal(new Date(updated.state.nextFireAt as number).getUTCMinutes(), 0);
  assert.equal((await mesh.client.schedules.pause("berlin-nightly")).schedule.paused, true);
  assert.equal((await mesh.client.schedules.resume("berlin-nightly")).schedule.paused, false);
  assert.deepEqual(
    (await mesh.client.schedules.list()).map((v) => v.schedule.id).filter((id) => id === "berlin-nightly"),
    ["berlin-nightly"],
  );
  const server = ["--server", mesh.server.url];
  const shown = await runCli(["schedule", "show", "berlin-nightly", ...server]);
  assert.equal(shown.code, 0, shown.stderr);
  assert.match(shown.stdout, /cron "0 12 \* \* \*" Europe\/Berlin/);
  const ran = await runCli(["schedule", "run-now", "berlin-nightly", "--json", ...server]);
  assert.equal(ran.code, 0, ran.stderr);
  const { jobId } = JSON.parse(ran.stdout);
  assert.ok((await jobsOf("berlin-nightly")).some((job) => job.jobId === jobId));
  const added = await runCli([
    "schedule",
    "add",
    "every-5m",
    mesh.queue,
    "report.ping",
    "--every",
    "5m",
    ...server,
  ]);
  assert.equal(added.code, 0, added.stderr);
  const listed = await runCli(["schedule", "list", ...server]);
  assert.match(listed.stdout, /every-5m .* every 5m/);
  for (const id of ["berlin-nightly", "every-5m"]) {
    const removed = await runCli(["schedule", "rm", id, ...server]);
    assert.equal(removed.code, 0, removed.stderr);
  }
  assert.equal((await callError(cp, "schedules.get", { id: "every-5m" })).code, "SCHEDULE_NOT_FOUND");
});
