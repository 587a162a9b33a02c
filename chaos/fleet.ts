// The worker processes of a chaos run, supervised like a container orchestrator would: a worker
// that exits is started again. Every exit is classified, so an exit nobody caused is reported.
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { LEDGER_URL_ENV } from "./ledger.ts";

/** Exit code of the poison handler that takes its process down on purpose. */
export const POISON_EXIT_CODE = 3;
const RESPAWN_DELAY_MS = 500;
const KEPT_LOG_LINES = 200;

export interface FleetOptions {
  /** Comma-separated server URLs of the system under test. */
  natsUrl: string;
  ledgerUrl: string;
  queue: string;
  size: number;
  concurrency: number;
}

export interface UnexpectedExit {
  worker: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  lastLines: string[];
}

interface Slot {
  index: number;
  child: ChildProcess | undefined;
  exited: Promise<void>;
  /** Set before a deliberate kill, so the exit is not counted as unexpected. */
  expectedExit: boolean;
  lines: string[];
}

export class Fleet {
  readonly unexpectedExits: UnexpectedExit[] = [];
  poisonExits = 0;
  /**
   * Workers that exited at start-up because NATS or JetStream did not answer (all servers down,
   * no meta leader yet): documented behaviour (docs/operations.md, "worker failed to start") that
   * leaves the restart to the supervisor.
   */
  startRefusals = 0;
  starts = 0;
  readonly #slots: Slot[] = [];
  #stopped = false;

  constructor(private readonly options: FleetOptions) {}

  start(): void {
    for (let index = 0; index < this.options.size; index++) {
      const slot: Slot = {
        index,
        child: undefined,
        exited: Promise.resolve(),
        expectedExit: false,
        lines: [],
      };
      this.#slots.push(slot);
      this.#spawn(slot);
    }
  }

  get pids(): number[] {
    return this.#slots.flatMap((slot) => (slot.child?.pid === undefined ? [] : [slot.child.pid]));
  }

  /** Waits until every worker has logged that it started. */
  async ready(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.#slots.every((slot) => slot.lines.some((line) => line.includes('"worker started"')))) {
      if (Date.now() > deadline) throw new Error("workers did not start in time");
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** Sends `signal` to worker `index`; the supervisor starts it again once it has exited. */
  async kill(index: number, signal: NodeJS.Signals): Promise<void> {
    const slot = this.#slots[index];
    if (slot?.child === undefined || !running(slot.child)) return;
    slot.expectedExit = true;
    slot.child.kill(signal);
    await slot.exited;
  }

  #spawn(slot: Slot): void {
    if (this.#stopped) return;
    const child = spawn(process.execPath, ["--import", "tsx", "workers/main.ts"], {
      env: {
        ...process.env,
        NATS_URL: this.options.natsUrl,
        [LEDGER_URL_ENV]: this.options.ledgerUrl,
        JETMESH_HANDLERS: "chaos/handlers.ts",
        JETMESH_QUEUES: this.options.queue,
        JETMESH_CONCURRENCY: String(this.options.concurrency),
        JETMESH_WORKER_ID: `chaos-${slot.index}-${this.starts}`,
        JETMESH_HEARTBEAT_INTERVAL_MS: "1000",
        JETMESH_SHUTDOWN_GRACE_MS: "10000",
        JETMESH_METRICS_PORT: "0",
        JETMESH_LOG_LEVEL: "info",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.starts++;
    slot.child = child;
    slot.expectedExit = false;
    slot.lines = [];
    const collect = (chunk: Buffer) => {
      slot.lines.push(...chunk.toString().split("\n").filter(Boolean));
      if (slot.lines.length > KEPT_LOG_LINES) slot.lines.splice(0, slot.lines.length - KEPT_LOG_LINES);
    };
    child.stdout?.on("data", collect);
    child.stderr?.on("data", collect);
    slot.exited = once(child, "exit").then(([code, signal]) => {
      if (slot.expectedExit) {
        // Killed by the fault schedule.
      } else if (code === POISON_EXIT_CODE) {
        this.poisonExits++;
      } else if (code === 1 && slot.lines.some((line) => line.includes('"worker failed to start: '))) {
        this.startRefusals++;
      } else if (!this.#stopped) {
        this.unexpectedExits.push({
          worker: slot.index,
          code: code as number | null,
          signal: signal as NodeJS.Signals | null,
          lastLines: slot.lines.slice(-20),
        });
      }
      if (!this.#stopped) setTimeout(() => this.#spawn(slot), RESPAWN_DELAY_MS).unref();
    });
  }

  /** Drains every worker (SIGTERM), killing any that does not exit in time. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await Promise.all(
      this.#slots.map(async (slot) => {
        const child = slot.child;
        if (child === undefined || !running(child)) return;
        slot.expectedExit = true;
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
        await slot.exited;
        clearTimeout(timer);
      }),
    );
  }

  /** Last resort (Ctrl-C, an error): kill everything at once, synchronously. */
  killAll(): void {
    this.#stopped = true;
    for (const slot of this.#slots)
      if (slot.child !== undefined && running(slot.child)) slot.child.kill("SIGKILL");
  }
}

function running(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}
