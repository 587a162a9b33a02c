// Helpers for the control-plane tests: a mesh with a control plane, simulated workers that
// publish heartbeats and answer commands like real ones, dead letters written straight to the
// dead-letter stream, and the CLI run as a subprocess.
import { spawn } from "node:child_process";
import { jetstream } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { headers as createHeaders, type NatsConnection, type Subscription } from "@nats-io/transport-node";
import { pino } from "pino";
import { buildControlPlane, type ControlPlane, type ControlPlaneOptions } from "../../control-plane/index.ts";
import {
  type CommandAck,
  type ControlCommand,
  controlBucket,
  Header,
  type Heartbeat,
  type RunningJobStatus,
} from "../../runtime/index.ts";

export const quietLogger = pino({ level: process.env.JETMESH_TEST_LOG_LEVEL ?? "silent" });

export async function startControlPlane(
  url: string,
  options: ControlPlaneOptions = {},
): Promise<ControlPlane> {
  const service = buildControlPlane({
    connection: { servers: url },
    logger: quietLogger,
    sampleIntervalMs: 200,
    commandTimeoutMs: 500,
    ...options,
  });
  await service.start();
  return service;
}

/** Calls an endpoint in-process and returns its data, failing with the API error otherwise. */
export async function call<T = any>(service: ControlPlane, endpoint: string, body: unknown = {}): Promise<T> {
  const reply = await service.call(endpoint, body);
  if (!reply.ok) throw Object.assign(new Error(`${reply.error.code}: ${reply.error.message}`), reply.error);
  return reply.data as T;
}

/** Calls an endpoint in-process and returns its error (fails if it succeeded). */
export async function callError(service: ControlPlane, endpoint: string, body: unknown = {}) {
  const reply = await service.call(endpoint, body);
  if (reply.ok) throw new Error(`${endpoint} succeeded: ${JSON.stringify(reply.data)}`);
  return reply.error;
}

export function heartbeat(workerId: string, fields: Partial<Heartbeat> = {}): Heartbeat {
  const now = Date.now();
  return {
    workerId,
    host: "test-host",
    pid: 4242,
    version: "0.1.0",
    startedAt: now,
    at: now,
    intervalMs: 200,
    state: "running",
    queues: [],
    jobs: [],
    counters: { completed: 0, failed: 0, retried: 0, dead: 0, cancelled: 0 },
    memory: { rssBytes: 50_000_000, heapUsedBytes: 20_000_000 },
    ...fields,
  };
}

/**
 * A worker without jobs: heartbeats at an interval and acknowledges commands the way the worker
 * runtime does. It records each command with whether its control-bucket record already existed
 * when the broadcast arrived.
 */
export class SimulatedWorker {
  readonly commands: { command: ControlCommand; recordedFirst: boolean }[] = [];
  jobs: RunningJobStatus[] = [];
  paused = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  #subscription: Subscription | undefined;

  constructor(
    private readonly nc: NatsConnection,
    readonly id: string,
    readonly queues: string[],
    private readonly options: { intervalMs?: number; answers?: boolean } = {},
  ) {}

  start(): this {
    this.beat();
    this.#timer = setInterval(() => this.beat(), this.options.intervalMs ?? 200);
    if (this.options.answers ?? true) {
      const kv = new Kvm(this.nc).open(controlBucket("jetmesh"));
      this.#subscription = this.nc.subscribe("jetmesh.ctl.>", {
        callback: (_error, msg) => {
          const command = msg.json<ControlCommand>();
          void (async () => {
            const key = recordKey(command, this.id);
            const entry = key === undefined ? null : await (await kv).get(key);
            const recordedFirst =
              command.type === "resume"
                ? entry === null || entry.operation !== "PUT"
                : entry?.operation === "PUT";
            this.commands.push({ command, recordedFirst });
            const result = this.#apply(command);
            if (result === undefined) return;
            const ack: CommandAck = { commandId: command.id, workerId: this.id, result };
            msg.respond(JSON.stringify(ack));
          })();
        },
      });
    }
    return this;
  }

  #apply(command: ControlCommand): string | undefined {
    switch (command.type) {
      case "pause":
      case "resume":
        if (command.workerId !== undefined && command.workerId !== this.id) return undefined;
        if (!this.queues.includes(command.queue)) return "not serving this queue";
        if (command.type === "pause") this.paused.add(command.queue);
        else this.paused.delete(command.queue);
        return command.type === "pause" ? "paused" : "resumed";
      case "cancel":
        return this.jobs.some((j) => j.jobId === command.jobId)
          ? "aborted the running job"
          : "not running here";
      case "drain":
        return command.workerId === this.id ? "draining" : undefined;
    }
  }

  beat(): void {
    this.nc.publish(
      `jetmesh.hb.${this.id}`,
      JSON.stringify(
        heartbeat(this.id, {
          intervalMs: this.options.intervalMs ?? 200,
          queues: this.queues.map((queue) => ({
            queue,
            concurrency: 4,
            running: 0,
            paused: this.paused.has(queue),
          })),
          jobs: this.jobs,
        }),
      ),
    );
  }

  /** Stops heartbeats and answers, as a killed process would. */
  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#subscription?.unsubscribe();
  }
}

function recordKey(command: ControlCommand, workerId: string): string | undefined {
  switch (command.type) {
    case "pause":
    case "resume":
      return command.workerId === undefined
        ? `paused.${command.queue}`
        : command.workerId === workerId
          ? `paused.${command.queue}.${workerId}`
          : undefined;
    case "cancel":
      return `cancelled.${command.jobId}`;
    case "drain":
      return `drain.${command.workerId}`;
  }
}

export interface DeadLetterInput {
  queue: string;
  name: string;
  jobId: string;
  errorClass: string;
  message?: string;
  reason?: string;
  attempts?: number;
  failedAt?: number;
  payload?: unknown;
  stack?: string;
}

/** Writes a dead letter the way a worker does (docs/wire-format.md), returning its DLQ sequence. */
export async function publishDeadLetter(nc: NatsConnection, input: DeadLetterInput): Promise<number> {
  const h = createHeaders();
  h.set(Header.Version, "1");
  h.set(Header.JobId, input.jobId);
  h.set(Header.ContentType, "application/json");
  h.set(Header.EnqueuedAt, String(Date.now() - 60_000));
  h.set(Header.Attempt, "2");
  h.set(Header.MaxAttempts, "3");
  h.set(Header.TraceParent, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
  h.set(Header.DeadReason, input.reason ?? "max-attempts");
  h.set(Header.ErrorClass, input.errorClass);
  h.set(Header.ErrorMessage, input.message ?? `${input.errorClass} happened`);
  h.set(
    Header.ErrorStack,
    (input.stack ?? `${input.errorClass}: boom\n    at handler (jobs.ts:1:1)`).replace(/\n/g, "\\n"),
  );
  h.set(Header.FailedAt, String(input.failedAt ?? Date.now()));
  h.set(Header.Attempts, String(input.attempts ?? 3));
  h.set(
    Header.AttemptHistory,
    JSON.stringify([
      {
        attempt: 3,
        at: Date.now(),
        kind: "handler",
        errorClass: input.errorClass,
        message: "boom",
        workerId: "w-x",
      },
    ]),
  );
  h.set(Header.OriginalSubject, `jetmesh.q.${input.queue}.${input.name}`);
  h.set(Header.OriginalSequence, "7");
  h.set(Header.WorkerId, "w-x");
  const ack = await jetstream(nc).publish(
    `jetmesh.dlq.${input.queue}.${input.name}`,
    JSON.stringify(input.payload ?? { jobId: input.jobId }),
    { headers: h },
  );
  return ack.seq;
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** CLI processes at once: each spends about a second of CPU starting up, and the machine has two cores. */
const CLI_SLOTS = 3;
let cliRunning = 0;
const cliQueue: (() => void)[] = [];

/** Runs `jetmesh <args>` as a subprocess. */
export async function runCli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  if (cliRunning >= CLI_SLOTS) await new Promise<void>((resolve) => cliQueue.push(resolve));
  cliRunning++;
  try {
    return await spawnCli(args, env);
  } finally {
    cliRunning--;
    cliQueue.shift()?.();
  }
}

function spawnCli(args: string[], env: Record<string, string>): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", "control-plane/cli/main.ts", ...args], {
      env: { ...process.env, JETMESH_LOG_LEVEL: "silent", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.on("error", reject);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Parses the --json output of a CLI run, with the run in the failure message. */
export function parseJson<T = any>(result: CliResult): T {
  try {
    return JSON.parse(result.stdout) as T;
  } catch {
    throw new Error(`not JSON (exit ${result.code}):\n${result.stdout}\n${result.stderr}`);
  }
}
