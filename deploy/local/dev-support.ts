// What the local launchers (`npm run dev`: mesh.ts, `npm run dev:cluster`: cluster.ts) share:
// reading their settings, relaying child output, counting lifecycle events, the demo producer,
// and running in a process group of their own so that Ctrl-C drains the workers before the
// servers stop.
import { type ChildProcess, spawn } from "node:child_process";
import { constants } from "node:os";
import { isAbsolute, relative } from "node:path";
import { createInterface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import type { JetmeshClient, JobToEnqueue, LifecycleEvent } from "../../runtime/index.ts";

export const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** A setting the user got wrong: printed without a stack, exit code 1. */
export class UsageError extends Error {}

export function positiveNumber(env: NodeJS.ProcessEnv, key: string): number | undefined {
  const raw = env[key];
  if (raw === undefined || raw === "") return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) {
    throw new UsageError(`${key} must be a positive number, got "${raw}"`);
  }
  return value;
}

/** A folder as the user would type it: relative when inside the current directory. */
export function shown(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel === "" ? "." : rel.startsWith("..") || isAbsolute(rel) ? path : rel;
}

/** Copies a child's output to ours, one prefixed line at a time. */
export function relay(stream: NodeJS.ReadableStream | null, prefix: string): void {
  if (stream === null) return;
  createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY }).on("line", (line) => {
    process.stdout.write(`${prefix}${line}\n`);
  });
}

export function describeExit(child: ChildProcess): string {
  return child.signalCode === null ? `code ${child.exitCode}` : `signal ${child.signalCode}`;
}

export function running(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/** Lifecycle events seen on `<prefix>.evt.*.*`, counted by type, and the workers that sent them. */
export class Tally {
  enqueued = 0;
  readonly #events = new Map<string, number>();
  readonly #workers = new Set<string>();

  record(event: LifecycleEvent): void {
    this.#events.set(event.type, this.count(event.type) + 1);
    this.#workers.add(event.workerId);
  }

  count(type: string): number {
    return this.#events.get(type) ?? 0;
  }

  line(): string {
    return [
      `enqueued=${this.enqueued}`,
      `started=${this.count("started")}`,
      `completed=${this.count("completed")}`,
      `failed=${this.count("failed")}`,
      `retried=${this.count("retrying")}`,
      `dead=${this.count("dead")}`,
      `workers=${this.#workers.size}`,
    ].join(" ");
  }
}

/** Enqueues `rate` jobs per second, the next one from `nextJob(serial)`, until stopped. */
export class DemoProducer {
  #stopped = false;
  #loop: Promise<void> | undefined;
  #serial = 0;

  constructor(
    private readonly client: JetmeshClient,
    private readonly rate: number,
    private readonly tally: Tally,
    private readonly nextJob: (serial: number) => JobToEnqueue,
    private readonly say: (line: string) => void,
  ) {}

  start(): void {
    this.#loop = this.#run();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#loop;
  }

  async #run(): Promise<void> {
    let owed = 0;
    let lastError = "";
    while (!this.#stopped) {
      owed += this.rate;
      const batch: JobToEnqueue[] = [];
      for (; owed >= 1; owed--) batch.push(this.nextJob(++this.#serial));
      if (batch.length > 0) {
        try {
          await this.client.enqueueMany(batch);
          this.tally.enqueued += batch.length;
          lastError = "";
        } catch (error) {
          const message = (error as Error).message;
          if (message !== lastError) this.say(`enqueue failed: ${message}`);
          lastError = message;
        }
      }
      for (let waited = 0; waited < 1000 && !this.#stopped; waited += 100) await sleep(100);
    }
  }
}

/**
 * A launcher (the mesh, the cluster): starts its processes, runs until asked to stop, then stops
 * them in order; `killChildren` is the last resort when the process exits without that.
 */
export abstract class Launcher {
  #stopRequested = false;
  #failed = false;
  #requestStop: (reason: string) => void = () => {};
  readonly #stopReason: Promise<string>;

  constructor(protected readonly say: (line: string) => void) {
    this.#stopReason = new Promise((resolve) => {
      this.#requestStop = resolve;
    });
  }

  get stopping(): boolean {
    return this.#stopRequested;
  }

  /** Asks the launcher to stop; the first reason wins. */
  stop(reason: string, failed = false): void {
    if (failed) this.#failed = true;
    if (this.#stopRequested) return;
    this.#stopRequested = true;
    this.#requestStop(reason);
  }

  /** Starts everything, runs until asked to stop, stops everything; resolves to the exit code. */
  async run(): Promise<number> {
    try {
      await this.start();
      const reason = await this.#stopReason;
      this.say(`stopping (${reason})`);
    } catch (error) {
      this.#failed = true;
      this.say(`error: ${(error as Error).message}`);
    } finally {
      await this.shutdown();
    }
    return this.#failed ? 1 : 0;
  }

  protected abstract start(): Promise<void>;
  protected abstract shutdown(): Promise<void>;
  abstract killChildren(): void;
}

/** How to build a launcher: its settings from the environment (a UsageError for a bad one). */
export interface LauncherSpec<S> {
  readSettings(env: NodeJS.ProcessEnv): S;
  create(settings: S): Launcher;
  say(line: string): void;
}

async function runLauncher<S>(spec: LauncherSpec<S>): Promise<number> {
  let settings: S;
  try {
    settings = spec.readSettings(process.env);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`${error.message}\n`);
    return 1;
  }
  return runUntilSignalled(spec.create(settings), spec.say);
}

/**
 * Runs a launcher under SIGINT/SIGTERM: the first signal stops it the ordinary way (drain, then
 * servers); a second one kills what it started and exits at once.
 */
function runUntilSignalled(launcher: Launcher, say: (line: string) => void): Promise<number> {
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals === 1) {
      launcher.stop(signal);
      return;
    }
    say(`${signal} again: stopping now without draining`);
    launcher.killChildren();
    process.exit(1);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  process.on("exit", () => launcher.killChildren());
  return launcher.run();
}

const OWN_GROUP_ENV = "JETMESH_DEV_OWN_GROUP";
const REPEAT_SIGNAL_WINDOW_MS = 1000;

/**
 * Ctrl-C in a terminal signals the whole foreground process group: the servers would get it too
 * and stop at once, before the workers have drained. So a launcher runs in a process group of its
 * own (with everything it starts), and the first process (this entry, re-run with a marker in its
 * environment) only relays signals to it. Exits with the launcher's exit code.
 */
export function launch<S>(entry: string, what: string, spec: LauncherSpec<S>): void {
  (process.env[OWN_GROUP_ENV] === "1" ? runLauncher(spec) : relayToOwnGroup(entry, what)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
      process.exit(1);
    },
  );
}

function relayToOwnGroup(entry: string, what: string): Promise<number> {
  const inner = spawn(process.execPath, ["--import", "tsx", fileURLToPath(entry)], {
    cwd: ROOT,
    env: { ...process.env, [OWN_GROUP_ENV]: "1" },
    stdio: ["ignore", "inherit", "inherit"],
    detached: true,
  });
  let lastRelayedAt = Number.NEGATIVE_INFINITY;
  const relaySignal = (signal: NodeJS.Signals) => {
    // One Ctrl-C can arrive twice (from the terminal, then relayed by npm or tsx): a second
    // signal would stop without draining, so repeats within a second count as one.
    if (Date.now() - lastRelayedAt < REPEAT_SIGNAL_WINDOW_MS) return;
    lastRelayedAt = Date.now();
    // A closed terminal (SIGHUP) stops the launcher the ordinary way.
    inner.kill(signal === "SIGHUP" ? "SIGTERM" : signal);
  };
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(signal, relaySignal);
  return new Promise((resolve) => {
    inner.once("error", (error) => {
      process.stderr.write(`cannot start the ${what}: ${error.message}\n`);
      resolve(1);
    });
    inner.once("exit", (code, signal) =>
      resolve(code ?? (signal === null ? 1 : 128 + (constants.signals[signal] ?? 0))),
    );
  });
}
