// The local mesh (`npm run dev`) end to end: it starts a real nats-server, a worker process and a
// producer, runs jobs, and stops everything it started, by itself or on Ctrl-C.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { findNatsServerBinary } from "../../deploy/local/nats-server.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** The mesh's own process, its output, and the pids it reports in its banner. */
class MeshRun {
  output = "";
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #waiters = new Set<() => void>();

  private constructor(readonly child: ChildProcess) {
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

  static start(env: Record<string, string>): MeshRun {
    const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
    // The mesh must start its own server, whatever the environment of the test run says.
    delete childEnv.NATS_URL;
    const child = spawn(process.execPath, ["--import", "tsx", "deploy/local/mesh.ts"], {
      cwd: ROOT,
      env: childEnv,
      stdio: ["ignore", "pipe", "pipe"],
    });
    return new MeshRun(child);
  }

  get exitedAlready(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  /** Resolves with the first match of `pattern` in the output; fails on timeout or early exit. */
  waitFor(pattern: RegExp, what: string, timeoutMs = 60_000): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const finish = (error?: Error, match?: RegExpMatchArray) => {
        clearTimeout(timer);
        this.#waiters.delete(check);
        if (error !== undefined) reject(error);
        else resolve(match as RegExpMatchArray);
      };
      const check = () => {
        const match = this.output.match(pattern);
        if (match !== null) finish(undefined, match);
        else if (this.exitedAlready) finish(new Error(`the mesh exited before ${what}:\n${this.output}`));
      };
      const timer = setTimeout(
        () => finish(new Error(`timed out after ${timeoutMs} ms waiting for ${what}:\n${this.output}`)),
        timeoutMs,
      );
      this.#waiters.add(check);
      check();
    });
  }

  /** Waits for the exit, failing (with the output) after the timeout. */
  async exit(timeoutMs = 90_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`the mesh did not exit within ${timeoutMs} ms:\n${this.output}`)),
        timeoutMs,
      );
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Every pid the mesh reported: its own (inner) process, nats-server and the worker. */
  reportedPids(): { mesh: number; natsServer: number; worker: number } {
    const pid = (pattern: RegExp, what: string) => {
      const match = this.output.match(pattern);
      assert.ok(match?.[1], `the output names the ${what} pid:\n${this.output}`);
      return Number(match[1]);
    };
    return {
      mesh: pid(/mesh pid (\d+)/, "mesh"),
      natsServer: pid(/nats-server pid (\d+)/, "nats-server"),
      worker: pid(/worker pid (\d+)/, "worker"),
    };
  }

  /** The counters of the last summary line (periodic or final). */
  lastSummary(): Record<string, number> {
    const lines = this.output.split("\n").filter((line) => /\bsummary enqueued=\d+/.test(line));
    const last = lines.at(-1);
    assert.ok(last, `the output has a summary line:\n${this.output}`);
    return Object.fromEntries(
      [...last.matchAll(/(\w+)=(\d+)/g)].map(([, key, value]) => [key, Number(value)]),
    );
  }

  /** Kills whatever is still running (a failed test must not leave processes behind). */
  cleanUp(): void {
    if (!this.exitedAlready) this.child.kill("SIGKILL");
    for (const pattern of [/mesh pid (\d+)/, /nats-server pid (\d+)/, /worker pid (\d+)/]) {
      const pid = Number(this.output.match(pattern)?.[1]);
      if (pid > 0 && isRunning(pid)) process.kill(pid, "SIGKILL");
    }
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

function assertNothingLeft(run: MeshRun): void {
  for (const [what, pid] of Object.entries(run.reportedPids())) {
    assert.equal(
      isRunning(pid),
      false,
      `${what} (pid ${pid}) is still running after the mesh exited:\n${run.output}`,
    );
  }
}

const skip = findNatsServerBinary() === undefined ? "nats-server is not installed" : false;

describe("local mesh (npm run dev)", { skip, timeout: 180_000 }, () => {
  const dataDirs: string[] = [];
  const runs: MeshRun[] = [];

  async function startMesh(env: Record<string, string>): Promise<MeshRun> {
    // A fresh storage folder per run, so the test never shares .jetmesh/nats with a developer's mesh.
    const dataDir = await mkdtemp(join(tmpdir(), "jetmesh-dev-test-"));
    dataDirs.push(dataDir);
    const run = MeshRun.start({ JETMESH_DEV_DATA_DIR: dataDir, JETMESH_LOG_LEVEL: "info", ...env });
    runs.push(run);
    return run;
  }

  after(async () => {
    for (const run of runs) run.cleanUp();
    await Promise.all(dataDirs.map((dir) => rm(dir, { recursive: true, force: true })));
  });

  test("runs jobs, stops by itself after JETMESH_DEV_DURATION_MS, exits 0 and leaves nothing running", async () => {
    const run = await startMesh({ JETMESH_DEV_DURATION_MS: "8000", JETMESH_DEV_RATE: "5" });
    await run.waitFor(/worker pid \d+/, "the banner");
    await run.waitFor(/final summary enqueued=/, "the final summary", 90_000);
    const { code, signal } = await run.exit();
    assert.equal(code, 0, `exit code (signal ${signal}):\n${run.output}`);

    const summary = run.lastSummary();
    assert.ok((summary.enqueued ?? 0) > 0, `jobs were enqueued: ${JSON.stringify(summary)}`);
    assert.ok((summary.completed ?? 0) > 0, `jobs completed: ${JSON.stringify(summary)}`);
    assert.match(run.output, /\[worker\] .*worker started/, "the worker's pretty logs are relayed");
    assert.match(run.output, /worker stopped \(code 0\)/, "the worker drained and exited 0");
    assertNothingLeft(run);
  });

  test("SIGINT while jobs run drains the worker, exits 0 and leaves nothing running", async () => {
    const run = await startMesh({ JETMESH_DEV_DURATION_MS: "120000" });
    await run.waitFor(/\[worker\] .*worker started/, "the worker to start");
    await run.waitFor(/\[mesh\] summary enqueued=/, "the first summary");
    run.child.kill("SIGINT");
    await run.waitFor(/nats-server stopped/, "nats-server to stop", 90_000);
    const { code, signal } = await run.exit();
    assert.equal(code, 0, `exit code (signal ${signal}):\n${run.output}`);
    assert.match(run.output, /stopping \(SIGINT\)/);
    assert.match(run.output, /worker stopped \(code 0\)/, "the worker drained and exited 0");
    assertNothingLeft(run);
  });

  test("SIGINT during start-up also exits 0 and leaves nothing running", async () => {
    const run = await startMesh({ JETMESH_DEV_DURATION_MS: "120000" });
    // The banner comes right after the worker is spawned, long before it serves jobs.
    await run.waitFor(/worker pid \d+/, "the banner");
    run.child.kill("SIGINT");
    const { code, signal } = await run.exit();
    assert.equal(code, 0, `exit code (signal ${signal}):\n${run.output}`);
    assert.match(run.output, /nats-server stopped/);
    assertNothingLeft(run);
  });
});
