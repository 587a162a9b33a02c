// `npm run dev:cluster` end to end: three clustered nats-servers with the shipped users, the
// control plane (when it exists), two workers and a producer run jobs, then everything stops,
// by itself or on Ctrl-C, exits 0 and leaves no process behind.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { findNatsServerBinary } from "../../deploy/local/nats-server.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const HAS_CONTROL_PLANE = existsSync(join(ROOT, "control-plane/main.ts"));

/** Every process the cluster reports in its banner, by the label it uses. */
const PID_PATTERNS: Record<string, RegExp> = {
  cluster: /cluster pid (\d+)/,
  "nats-1": /nats-1 pid (\d+)/,
  "nats-2": /nats-2 pid (\d+)/,
  "nats-3": /nats-3 pid (\d+)/,
  "worker 1": /worker 1 pid (\d+)/,
  "worker 2": /worker 2 pid (\d+)/,
  "control plane": /control plane pid (\d+)/,
};

class ClusterRun {
  output = "";
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly #waiters = new Set<() => void>();

  constructor(readonly child: ChildProcess) {
    const collect = (chunk: Buffer) => {
      this.output += chunk.toString();
      for (const wake of this.#waiters) wake();
    };
    child.stdout?.on("data", collect);
    child.stderr?.on("data", collect);
    this.exited = once(child, "exit").then(([code, signal]) => {
      for (const wake of this.#waiters) wake();
      return { code: code as number | null, signal: signal as NodeJS.Signals | null };
    });
  }

  get done(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  waitFor(pattern: RegExp, what: string, timeoutMs = 90_000): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const finish = (error?: Error, match?: RegExpMatchArray) => {
        clearTimeout(timer);
        this.#waiters.delete(check);
        if (error === undefined) resolve(match as RegExpMatchArray);
        else reject(error);
      };
      const check = () => {
        const match = this.output.match(pattern);
        if (match !== null) finish(undefined, match);
        else if (this.done) finish(new Error(`dev:cluster exited before ${what}:\n${this.output}`));
      };
      const timer = setTimeout(
        () => finish(new Error(`timed out after ${timeoutMs} ms waiting for ${what}:\n${this.output}`)),
        timeoutMs,
      );
      this.#waiters.add(check);
      check();
    });
  }

  async exit(timeoutMs = 90_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`dev:cluster did not exit within ${timeoutMs} ms:\n${this.output}`)),
        timeoutMs,
      );
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  pids(): Record<string, number> {
    const found: Record<string, number> = {};
    for (const [label, pattern] of Object.entries(PID_PATTERNS)) {
      const pid = Number(this.output.match(pattern)?.[1]);
      if (pid > 0) found[label] = pid;
    }
    return found;
  }

  lastSummary(): Record<string, number> {
    const last = this.output
      .split("\n")
      .filter((line) => /summary enqueued=\d+/.test(line))
      .at(-1);
    assert.ok(last, `a summary line:\n${this.output}`);
    return Object.fromEntries(
      [...last.matchAll(/(\w+)=(\d+)/g)].map(([, key, value]) => [key, Number(value)]),
    );
  }

  /** A failed test must not leave processes behind either. */
  cleanUp(): void {
    if (!this.done && this.child.pid !== undefined) process.kill(-this.child.pid, "SIGKILL");
    for (const pid of Object.values(this.pids())) if (isRunning(pid)) process.kill(pid, "SIGKILL");
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Waits (bounded) until nothing the run started is alive: a process that has been sent on its
 * way may take a moment to be reaped on a busy machine, which is not a leak.
 */
async function assertNothingLeft(run: ClusterRun): Promise<void> {
  const pids = run.pids();
  const expected = HAS_CONTROL_PLANE ? 7 : 6;
  assert.equal(Object.keys(pids).length, expected, `the banner names ${expected} processes:\n${run.output}`);
  const survivors = () => [
    // The process group the test started (npm, sh, tsx, node)…
    ...(isRunning(-(run.child.pid ?? 0)) ? ["a process of the started group"] : []),
    // …and everything the cluster started in groups of its own.
    ...Object.entries(pids)
      .filter(([, pid]) => isRunning(pid))
      .map(([label, pid]) => `${label} (pid ${pid})`),
  ];
  const deadline = Date.now() + 20_000;
  while (survivors().length > 0 && Date.now() < deadline)
    await new Promise((resolve) => setTimeout(resolve, 100));
  assert.deepEqual(survivors(), [], "still running after dev:cluster exited");
}

const skip = findNatsServerBinary() === undefined ? "nats-server is not installed" : false;

describe("npm run dev:cluster", { skip, timeout: 150_000 }, () => {
  const dataDirs: string[] = [];
  const runs: ClusterRun[] = [];

  /** `npm run dev:cluster`, or (viaNpm false) the script itself, as `npm run` starts it. */
  async function start(env: Record<string, string>, viaNpm = true): Promise<ClusterRun> {
    const dataDir = await mkdtemp(join(tmpdir(), "jetmesh-dev-cluster-"));
    dataDirs.push(dataDir);
    const childEnv: NodeJS.ProcessEnv = {
      ...process.env,
      JETMESH_DEV_DATA_DIR: dataDir,
      JETMESH_LOG_LEVEL: "info",
      ...env,
    };
    delete childEnv.NATS_URL;
    delete childEnv.JETMESH_PREFIX;
    // Its own process group, like a terminal's foreground job: Ctrl-C signals the whole group.
    const command = viaNpm ? "npm" : process.execPath;
    const args = viaNpm ? ["run", "--silent", "dev:cluster"] : ["--import", "tsx", "deploy/local/cluster.ts"];
    const child = spawn(command, args, {
      cwd: ROOT,
      env: childEnv,
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    const run = new ClusterRun(child);
    runs.push(run);
    return run;
  }

  after(async () => {
    for (const run of runs) run.cleanUp();
    await Promise.all(dataDirs.map((dir) => rm(dir, { recursive: true, force: true })));
  });

  test("runs jobs on two workers, stops by itself, exits 0 and leaves nothing running", async () => {
    const run = await start({ JETMESH_DEV_DURATION_MS: "9000", JETMESH_DEV_RATE: "10" });
    await run.waitFor(/worker 2 pid \d+/, "the banner");
    assert.match(run.output, /queue {5}default {2}\(stream jetmesh_q_default, 3 replicas; declared\)/);
    if (HAS_CONTROL_PLANE) assert.match(run.output, /control plane pid \d+/);
    else assert.match(run.output, /control {3}skipped: control-plane\/main\.ts does not exist yet/);
    await run.waitFor(/final summary enqueued=/, "the final summary");
    const { code, signal } = await run.exit();
    assert.equal(code, 0, `exit code (signal ${signal}):\n${run.output}`);

    const summary = run.lastSummary();
    assert.ok((summary.enqueued ?? 0) > 0, `jobs were enqueued: ${JSON.stringify(summary)}`);
    assert.ok((summary.completed ?? 0) > 0, `jobs completed: ${JSON.stringify(summary)}`);
    assert.equal(summary.workers, 2, "both workers ran jobs");
    for (const label of ["worker 1", "worker 2"]) {
      assert.match(run.output, new RegExp(`\\[${label}\\] .*worker started`), `${label} started`);
      assert.match(run.output, new RegExp(`${label} stopped \\(code 0\\)`), `${label} drained and exited 0`);
    }
    assert.doesNotMatch(run.output, /Permissions Violation|Authorization Violation/);
    assert.match(run.output, /servers stopped/);
    await assertNothingLeft(run);
  });

  test("SIGINT while jobs run drains everything, exits 0 and leaves nothing running", async () => {
    // Started without npm: on Ctrl-C npm itself dies of SIGINT, whatever its script's exit code.
    const run = await start({ JETMESH_DEV_DURATION_MS: "120000" }, false);
    await run.waitFor(/\[cluster\] summary enqueued=/, "the first summary");
    // Ctrl-C during the control plane's own start-up is another case: wait until it runs.
    if (HAS_CONTROL_PLANE)
      await run.waitFor(/\[control-plane\] .*control plane started/, "the control plane");
    // What Ctrl-C does: SIGINT to every process of the foreground group (npm, sh, tsx, node).
    process.kill(-run.child.pid!, "SIGINT");
    const { code, signal } = await run.exit();
    assert.equal(code, 0, `exit code (signal ${signal}):\n${run.output}`);
    assert.match(run.output, /stopping \(SIGINT\)/);
    assert.match(run.output, /worker 1 stopped \(code 0\)/);
    assert.match(run.output, /worker 2 stopped \(code 0\)/);
    if (HAS_CONTROL_PLANE) assert.match(run.output, /control-plane stopped \(code 0\)/);
    await assertNothingLeft(run);
  });
});
