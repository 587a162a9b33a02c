// Test support: real nats-servers, worker processes and a ledger of executions, so tests assert
// what happened to every job rather than how long it took.
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { NatsServer } from "../../deploy/local/nats-server.ts";
import {
  JetmeshClient,
  type LifecycleEvent,
  parseLifecycleEvents,
  type QueueOptions,
} from "../../runtime/index.ts";

export { NatsCluster, NatsServer } from "../../deploy/local/nats-server.ts";

export function uniqueName(prefix = "q"): string {
  return `${prefix}_${randomBytes(4).toString("hex")}`;
}

/** Polls until `check` returns a truthy value; fails with `what` after the timeout. */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  what: string,
  timeoutMs = 30_000,
  intervalMs = 50,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

export async function startServer(): Promise<NatsServer> {
  return NatsServer.start();
}

/** One execution recorded by a fixture handler (test/fixtures/handlers.ts). */
export interface LedgerEntry {
  jobId: string;
  name: string;
  attempt: number;
  pid: number;
  at: number;
  payload?: unknown;
  note?: string;
}

export const LEDGER_STREAM = "ledger";

/** Creates the ledger stream the fixture handlers write to before they return. */
export async function createLedger(nc: NatsConnection): Promise<void> {
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: LEDGER_STREAM, subjects: ["ledger.>"] });
}

/** Every ledger entry, in the order they were stored. */
export async function readLedger(nc: NatsConnection): Promise<LedgerEntry[]> {
  const jsm = await jetstreamManager(nc);
  const { state } = await jsm.streams.info(LEDGER_STREAM);
  const entries: LedgerEntry[] = [];
  for (let start = state.first_seq; start <= state.last_seq; start += 200) {
    const batch = [];
    for (let seq = start; seq < Math.min(start + 200, state.last_seq + 1); seq++) {
      batch.push(jsm.streams.getMessage(LEDGER_STREAM, { seq }).catch(() => null));
    }
    for (const msg of await Promise.all(batch)) if (msg) entries.push(msg.json<LedgerEntry>());
  }
  return entries;
}

export async function streamMessages(jsm: JetStreamManager, stream: string): Promise<number> {
  return (await jsm.streams.info(stream)).state.messages;
}

/** Appends each non-empty line a child prints (stdout and stderr) to `lines`. */
export function collectLines(child: ChildProcess, lines: string[]): void {
  let buffered = "";
  const collect = (chunk: Buffer) => {
    buffered += chunk.toString();
    const parts = buffered.split("\n");
    buffered = parts.pop() ?? "";
    lines.push(...parts.filter(Boolean));
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
}

/** A worker process started from workers/main.ts with the fixture handlers. */
export class WorkerProcess {
  readonly lines: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(readonly child: ChildProcess) {
    collectLines(child, this.lines);
    this.exited = once(child, "exit").then(([code, signal]) => ({
      code: code as number | null,
      signal: signal as NodeJS.Signals | null,
    }));
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  static async start(url: string, env: Record<string, string> = {}): Promise<WorkerProcess> {
    const child = spawn(process.execPath, ["--import", "tsx", "workers/main.ts"], {
      env: {
        ...process.env,
        NATS_URL: url,
        JETMESH_HANDLERS: "test/fixtures/handlers.ts",
        JETMESH_LOG_LEVEL: "info",
        JETMESH_METRICS_PORT: "0",
        ...env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const worker = new WorkerProcess(child);
    await waitFor(() => {
      // Started counts even if it has exited since (a poison job can take it down at once).
      if (worker.lines.some((line) => line.includes('"worker started"'))) return true;
      if (child.exitCode !== null) throw new Error(`worker exited early:\n${worker.lines.join("\n")}`);
      return false;
    }, "the worker process to start");
    return worker;
  }

  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    await this.exited;
  }
}

/** A server, a client with a declared queue, and a ledger: the bundle most e2e tests start from. */
export interface MeshBundle {
  server: NatsServer;
  client: JetmeshClient;
  nc: NatsConnection;
  jsm: JetStreamManager;
  queue: string;
  stream: string;
  close(): Promise<void>;
}

export async function setupMesh(queueOptions: QueueOptions = {}): Promise<MeshBundle> {
  const server = await startServer();
  const client = await JetmeshClient.connect({ connection: { servers: server.url } });
  const queue = uniqueName();
  const settings = await client.queues.declare(queue, queueOptions);
  await createLedger(client.nc);
  return {
    server,
    client,
    nc: client.nc,
    jsm: await jetstreamManager(client.nc),
    queue,
    stream: settings.stream,
    async close() {
      await client.close().catch(() => {});
      await server.stop();
    },
  };
}

/** Collects lifecycle events of a queue as they are published. */
export function collectEvents(nc: NatsConnection, queue: string): LifecycleEvent[] {
  const events: LifecycleEvent[] = [];
  nc.subscribe(`jetmesh.evt.${queue}.*`, {
    callback: (_error, msg) => {
      events.push(...parseLifecycleEvents(msg.data));
    },
  });
  return events;
}

/** Reads one dead letter by stream sequence (1-based within the dead-letter stream). */
export async function deadLetters(
  jsm: JetStreamManager,
): Promise<{ subject: string; header: (name: string) => string; data: Uint8Array }[]> {
  const info = await jsm.streams.info("jetmesh_dlq");
  const letters = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
    const msg = await jsm.streams.getMessage("jetmesh_dlq", { seq }).catch(() => null);
    if (msg)
      letters.push({ subject: msg.subject, header: (name: string) => msg.header.get(name), data: msg.data });
  }
  return letters;
}
