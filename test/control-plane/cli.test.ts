// Every `jetmesh` command as a subprocess against a real server and control plane: --json
// output for scripts, tables for people, exit codes, and errors that say what to do.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, before, test } from "node:test";
import { type ControlPlane, ControlPlaneClient } from "../../control-plane/index.ts";
import { freePort } from "../../deploy/local/nats-server.ts";
import { type MeshBundle, setupMesh, waitFor } from "../support/harness.ts";
import { parseJson, publishDeadLetter, runCli, SimulatedWorker, startControlPlane } from "./support.ts";

let mesh: MeshBundle;
let cp: ControlPlane;
let worker: SimulatedWorker;
let jetmesh: (...args: string[]) => ReturnType<typeof runCli>;

before(async () => {
  mesh = await setupMesh();
  cp = await startControlPlane(mesh.server.url);
  worker = new SimulatedWorker(mesh.nc, "cli-worker-1", [mesh.queue]);
  worker.jobs = [
    {
      jobId: "running-job-1",
      queue: mesh.queue,
      name: "slow",
      attempt: 1,
      startedAt: Date.now(),
      progress: 40,
    },
  ];
  worker.start();
  await waitFor(async () => (await cp.call("workers.list")).ok, "the control plane");
  jetmesh = (...args: string[]) => runCli(["-s", mesh.server.url, ...args]);
});

after(async () => {
  worker.stop();
  await cp.stop();
  await mesh.close();
});

test("status, queues, queue, workers: JSON for scripts, tables for people", async () => {
  await waitFor(
    async () =>
      (await cp.call("workers.list")).ok && ((await cp.call("workers.list")) as any).data.length === 1,
    "the worker",
  );
  const [statusJson, status, queuesJson, queueJson, queue, workersJson, workers] = await Promise.all([
    jetmesh("status", "--json"),
    jetmesh("status"),
    jetmesh("queues", "--json"),
    jetmesh("queue", mesh.queue, "--json"),
    jetmesh("queue", mesh.queue),
    jetmesh("workers", "--json"),
    jetmesh("workers"),
  ]);
  for (const run of [statusJson, status, queuesJson, queueJson, queue, workersJson, workers])
    assert.equal(run.code, 0, run.stderr);
  const s = parseJson(statusJson);
  assert.equal(s.workers.alive, 1);
  assert.equal(s.jobs.running, 1);
  assert.ok(s.queues.some((q: any) => q.queue === mesh.queue));
  assert.match(status.stdout, /workers: 1 alive, 0 late, 0 gone/);
  assert.match(status.stdout, /QUEUE\s+BACKLOG\s+PENDING/);
  assert.ok(parseJson<any[]>(queuesJson).some((q) => q.queue === mesh.queue));
  assert.match(status.stdout, new RegExp(`${mesh.queue}\\s+0\\s+0\\s+0/1000`));
  assert.equal(parseJson(queueJson).runningJobs[0].jobId, "running-job-1");
  assert.match(queue.stdout, /state:\s+active/);
  assert.match(queue.stdout, /running-job-1/);
  assert.equal(parseJson<any[]>(workersJson)[0].workerId, "cli-worker-1");
  assert.match(workers.stdout, /cli-worker-1\s+alive\s+running\s+test-host/);
});

test("jobs and job: running, waiting, lookup", async () => {
  const { jobId } = await mesh.client.enqueue(mesh.queue, "record", { n: 1 });
  const [runningJson, running, waitingJson, waiting, jobJson, job, missing] = await Promise.all([
    jetmesh("jobs", "--running", "--json"),
    jetmesh("jobs", "--running", "--queue", mesh.queue),
    jetmesh("jobs", "--queue", mesh.queue, "--json"),
    jetmesh("jobs", "--queue", mesh.queue),
    jetmesh("job", jobId, "--json"),
    jetmesh("job", "running-job-1"),
    jetmesh("job", "no-such-job"),
  ]);
  assert.equal(parseJson(runningJson).jobs[0].jobId, "running-job-1");
  assert.match(running.stdout, /running-job-1\s+\S+\s+slow\s+1\s+cli-worker-1/);
  assert.ok(parseJson(waitingJson).jobs.some((j: any) => j.jobId === jobId));
  assert.match(waiting.stdout, new RegExp(jobId));
  assert.equal(parseJson(jobJson).state, "waiting");
  assert.match(job.stdout, /state:\s+running/);
  assert.match(job.stdout, /worker:\s+cli-worker-1 on test-host/);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /error: job "no-such-job" is not running/);
  assert.match(missing.stderr, /hint: /);
});

test("pause, resume, cancel, drain report acknowledgements", async () => {
  const pause = await jetmesh("pause", mesh.queue, "--reason", "maintenance", "--by", "ops", "--json");
  assert.equal(pause.code, 0, pause.stderr);
  const paused = parseJson(pause);
  assert.equal(paused.acknowledged, 1);
  assert.equal(paused.command.reason, "maintenance");
  assert.equal(paused.command.by, "ops");
  const resume = await jetmesh("resume", mesh.queue);
  assert.equal(resume.code, 0, resume.stderr);
  assert.match(resume.stdout, /resumed .*: acknowledged by 1 worker\(s\) \(1 of 1 concerned\)/);
  assert.match(resume.stdout, /cli-worker-1\s+resumed/);
  const [cancel, drain, unknownQueue] = await Promise.all([
    jetmesh("cancel", "running-job-1", "--json"),
    jetmesh("drain", "cli-worker-1"),
    jetmesh("pause", "nope"),
  ]);
  assert.equal(parseJson(cancel).acks[0].result, "aborted the running job");
  assert.match(drain.stdout, /draining cli-worker-1: acknowledged by 1 worker/);
  assert.equal(unknownQueue.code, 1);
  assert.match(unknownQueue.stderr, /unknown queue "nope"/);
  assert.match(unknownQueue.stderr, new RegExp(`known queues: .*${mesh.queue}`));
});

test("dlq list, show, retry, purge", async () => {
  const seqA = await publishDeadLetter(mesh.nc, {
    queue: mesh.queue,
    name: "charge",
    jobId: "dead-a",
    errorClass: "TimeoutError",
  });
  await publishDeadLetter(mesh.nc, {
    queue: mesh.queue,
    name: "charge",
    jobId: "dead-b",
    errorClass: "TypeError",
  });
  const [listJson, list, showJson, show, noFilter] = await Promise.all([
    jetmesh("dlq", "list", "--json"),
    jetmesh("dlq", "list", "--queue", mesh.queue, "--since", "1h"),
    jetmesh("dlq", "show", String(seqA), "--json"),
    jetmesh("dlq", "show", "--job", "dead-b"),
    jetmesh("dlq", "retry"),
  ]);
  assert.equal(parseJson(listJson).total, 2);
  assert.match(list.stdout, /dead-a\s+max-attempts\s+TimeoutError/);
  assert.equal(parseJson(showJson).jobId, "dead-a");
  assert.match(show.stdout, /error:\s+TypeError: TypeError happened/);
  assert.match(show.stdout, /stack:\n/);
  assert.equal(noFilter.code, 2);
  assert.match(noFilter.stderr, /hint:\s+pass --all/);

  const retry = await jetmesh("dlq", "retry", "--error-class", "TimeoutError", "--json");
  assert.equal(retry.code, 0, retry.stderr);
  assert.deepEqual(
    parseJson(retry).retried.map((r: any) => r.jobId),
    ["dead-a"],
  );
  const dry = await jetmesh("dlq", "purge", "--all", "--dry-run");
  assert.match(dry.stdout, /would purge 1 dead letter/);
  const purge = await jetmesh("dlq", "purge", "--all", "--json");
  assert.equal(parseJson(purge).purged, 1);
});

test("enqueue, with JSON data or a bad one", async () => {
  const [ok, bad] = await Promise.all([
    jetmesh(
      "enqueue",
      mesh.queue,
      "email.send",
      "--data",
      '{"to":"ann@example.com"}',
      "--job-id",
      "cli-job-1",
      "--json",
    ),
    jetmesh("enqueue", mesh.queue, "email.send", "--data", "{nope"),
  ]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.deepEqual(
    { jobId: parseJson(ok).jobId, duplicate: parseJson(ok).duplicate },
    { jobId: "cli-job-1", duplicate: false },
  );
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--data is not valid JSON/);
});

test("top prints one status per refresh", async () => {
  const top = await jetmesh("top", "--json", "-n", "2", "-i", "0.2");
  assert.equal(top.code, 0, top.stderr);
  const lines = top.stdout.trim().split("\n");
  assert.equal(lines.length, 2);
  for (const line of lines) assert.ok(JSON.parse(line).running.total >= 0);
  const screen = await jetmesh("top", "-n", "1");
  assert.match(screen.stdout, /jetmesh top/);
  assert.match(screen.stdout, /running jobs \(\d+\):/);
});

test("help has examples; usage errors exit 2", async () => {
  const [help, dlqHelp, bogus] = await Promise.all([
    runCli(["--help"]),
    runCli(["dlq", "retry", "--help"]),
    runCli(["frobnicate"]),
  ]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Examples:/);
  for (const command of [
    "status",
    "queues",
    "queue <name>",
    "workers",
    "jobs",
    "job <id>",
    "pause <queue>",
    "resume <queue>",
    "cancel <jobId>",
    "drain <workerId>",
    "dlq <command>",
    "enqueue <queue> <name>",
    "top",
    "control-plane",
  ])
    assert.ok(help.stdout.includes(`jetmesh ${command}`), `help lists ${command}`);
  assert.match(dlqHelp.stdout, /--error-class/);
  assert.match(dlqHelp.stdout, /Examples:/);
  assert.equal(bogus.code, 2);
});

test("unreachable NATS and a missing control plane: exit 3 with what to do", async () => {
  const port = await freePort();
  const [human, json, noControlPlane] = await Promise.all([
    runCli(["status", "-s", `nats://127.0.0.1:${port}`]),
    runCli(["queues", "--json"], { NATS_URL: `nats://127.0.0.1:${port}` }),
    runCli(["status", "-s", mesh.server.url, "--prefix", "elsewhere"]),
  ]);
  assert.equal(human.code, 3);
  assert.match(human.stderr, new RegExp(`error: NATS unreachable at nats://127.0.0.1:${port}`));
  assert.match(
    human.stderr,
    /hint:\s+set NATS_URL \(or --server\) to a running server, or start the local mesh with `npm run dev`/,
  );
  assert.equal(json.code, 3);
  assert.equal(parseJson(json).error.code, "NATS_UNREACHABLE");
  assert.equal(noControlPlane.code, 3);
  assert.match(noControlPlane.stderr, /no control plane answers on elsewhere\.api\.status/);
  assert.match(noControlPlane.stderr, /jetmesh control-plane/);
});

test("control-plane runs the service until SIGTERM", async () => {
  const child = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      "control-plane/cli/main.ts",
      "control-plane",
      "-s",
      mesh.server.url,
      "--prefix",
      "cpcli",
    ],
    { env: { ...process.env, JETMESH_LOG_LEVEL: "silent", JETMESH_CP_HTTP_PORT: "0" }, stdio: "ignore" },
  );
  const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
  try {
    const api = new ControlPlaneClient(mesh.nc, "cpcli", 1000);
    const ping = await waitFor(
      () => api.request("ping").catch(() => undefined),
      "the service to answer",
      20_000,
      200,
    );
    assert.equal(ping.prefix, "cpcli");
  } finally {
    child.kill("SIGTERM");
  }
  assert.equal(await exited, 0);
});
