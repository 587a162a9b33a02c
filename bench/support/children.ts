// The parent's side of a worker child process (support/worker-child.ts): start it, send it
// requests over IPC, and make sure it never outlives the benchmark.
import { type ChildProcess, fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { abortable } from "./abort.ts";

/** What a child runs: the raw baseline's consume loop, or a jetmesh Worker. */
export type ChildSpec =
  | { system: "raw"; natsUrl: string; stream: string; consumer: string; concurrency: number }
  | {
      system: "jetmesh";
      natsUrl: string;
      queue: string;
      jobName: string;
      concurrency: number;
      events: boolean;
    }
  /** The jetmesh control plane (heartbeat aggregation, API) instead of a worker. */
  | { system: "control-plane"; natsUrl: string };

export type ChildRequest =
  | { id: number; op: "go" }
  | { id: number; op: "sample"; gc: boolean; resetPeak: boolean }
  | { id: number; op: "stop" };

/** Bytes, from process.memoryUsage(), and the jobs the child's handlers have started. */
export interface MemoryReading {
  rss: number;
  heapUsed: number;
  /** Highest values seen (sampled every 50 ms) since the last reset. */
  peakRss: number;
  peakHeapUsed: number;
  handled: number;
  /** CPU time of the process (user + system) so far, in microseconds. */
  cpuMicros: number;
}

export type ChildReply =
  | { id: number; ok: true; memory?: MemoryReading }
  | { id: number; ok: false; error: string };

const CHILD_PATH = fileURLToPath(new URL("./worker-child.ts", import.meta.url));
const ROOT = fileURLToPath(new URL("../..", import.meta.url));
/** Loading tsx and the modules of a worker takes a second or two on a busy 2-core machine. */
const STARTUP_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;

/** Children started and not yet gone: the exit hook kills whatever is left. */
const live = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});

export class WorkerChild {
  readonly #child: ChildProcess;
  readonly #pending = new Map<number, { resolve(reply: ChildReply): void; reject(error: Error): void }>();
  #nextId = 1;
  /** Rejects when the child exits before it was asked to stop; never resolves. */
  readonly exited: Promise<never>;
  #stopping = false;

  private constructor(child: ChildProcess) {
    this.#child = child;
    live.add(child);
    child.on("message", (reply: ChildReply) => {
      const waiter = this.#pending.get(reply.id);
      this.#pending.delete(reply.id);
      waiter?.resolve(reply);
    });
    this.exited = new Promise<never>((_, reject) => {
      child.once("exit", (code, signal) => {
        live.delete(child);
        const error = new Error(`worker child ${child.pid} exited (${signal ?? `code ${code}`})`);
        for (const waiter of this.#pending.values()) waiter.reject(error);
        this.#pending.clear();
        if (!this.#stopping) reject(error);
      });
    });
    this.exited.catch(() => {});
  }

  /** Forks a child running `spec` and resolves once it is connected and ready for "go". */
  static async start(spec: ChildSpec, signal: AbortSignal): Promise<WorkerChild> {
    const child = fork(CHILD_PATH, [JSON.stringify(spec)], {
      cwd: ROOT,
      execArgv: ["--import", "tsx", "--expose-gc"],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    const worker = new WorkerChild(child);
    const ready = new Promise<void>((resolve, reject) => {
      worker.#pending.set(0, {
        resolve: (reply) => (reply.ok ? resolve() : reject(new Error(reply.error))),
        reject,
      });
    });
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`worker child not ready within ${STARTUP_TIMEOUT_MS / 1000} s`)),
        STARTUP_TIMEOUT_MS,
      );
    });
    try {
      await abortable(Promise.race([ready, worker.exited, late]), signal);
      return worker;
    } catch (error) {
      worker.kill();
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  #request(request: Omit<ChildRequest, "id"> & { op: ChildRequest["op"] }): Promise<ChildReply> {
    const id = this.#nextId++;
    const reply = new Promise<ChildReply>((resolve, reject) => this.#pending.set(id, { resolve, reject }));
    this.#child.send({ ...request, id });
    return reply.then((answer) => {
      if (!answer.ok) throw new Error(`worker child ${this.pid}: ${request.op} failed: ${answer.error}`);
      return answer;
    });
  }

  /** Starts consuming; resolves once the child's worker has started. */
  async go(): Promise<void> {
    await this.#request({ op: "go" });
  }

  async sample(options: { gc: boolean; resetPeak: boolean }): Promise<MemoryReading> {
    const reply = await this.#request({ op: "sample", ...options });
    if (!reply.ok || reply.memory === undefined) throw new Error("sample: no memory reading");
    return reply.memory;
  }

  /** Stops the worker, waits until the child has exited, and returns its last reading. */
  async stop(): Promise<MemoryReading> {
    this.#stopping = true;
    const exit = new Promise<void>((resolve) => {
      if (this.#child.exitCode !== null || this.#child.signalCode !== null) resolve();
      else this.#child.once("exit", () => resolve());
    });
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`worker child ${this.pid} did not stop`)), STOP_TIMEOUT_MS);
    });
    try {
      const reply = await Promise.race([this.#request({ op: "stop" }), late]);
      await Promise.race([exit, late]);
      if (!reply.ok || reply.memory === undefined) throw new Error("stop: no final reading");
      return reply.memory;
    } finally {
      clearTimeout(timer);
      this.kill();
    }
  }

  /** Kills the child at once (a no-op once it has exited). */
  kill(): void {
    this.#stopping = true;
    if (this.#child.exitCode === null && this.#child.signalCode === null) this.#child.kill("SIGKILL");
  }
}
