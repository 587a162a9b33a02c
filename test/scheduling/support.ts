// Helpers for the scheduling tests: the jobs a queue holds, read without consuming them, and
// control planes run as processes.
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import type { JetStreamManager } from "@nats-io/jetstream";
import { collectLines, waitFor } from "../support/harness.ts";

export interface QueuedJob {
  jobId: string;
  subject: string;
  dueAt: number | undefined;
  scheduleId: string | undefined;
  /** When the queue stored it (ms since epoch). */
  storedAt: number;
}

/** Every job stored in a queue stream, in stream order (nothing consumes them in these tests). */
export async function queuedJobs(jsm: JetStreamManager, stream: string): Promise<QueuedJob[]> {
  const { state } = await jsm.streams.info(stream);
  const jobs: QueuedJob[] = [];
  for (let seq = state.first_seq; seq <= state.last_seq && state.messages > 0; seq++) {
    const msg = await jsm.streams.getMessage(stream, { seq }).catch(() => null);
    if (msg === null) continue;
    const due = msg.header.get("Jetmesh-Due-At");
    jobs.push({
      jobId: msg.header.get("Jetmesh-Job-Id"),
      subject: msg.subject,
      dueAt: due === "" ? undefined : Number(due),
      scheduleId: msg.header.get("Jetmesh-Schedule-Id") || undefined,
      storedAt: msg.time.getTime(),
    });
  }
  return jobs;
}

/** A control plane started as its own process (control-plane/main.ts), so a test can kill -9 it. */
export class ControlPlaneProcess {
  readonly lines: string[] = [];
  readonly exited: Promise<unknown>;

  private constructor(
    readonly replicaId: string,
    readonly child: ChildProcess,
  ) {
    collectLines(child, this.lines);
    this.exited = once(child, "exit");
  }

  static async start(
    url: string,
    replicaId: string,
    env: Record<string, string> = {},
  ): Promise<ControlPlaneProcess> {
    const child = spawn(process.execPath, ["--import", "tsx", "control-plane/main.ts"], {
      env: {
        ...process.env,
        NATS_URL: url,
        JETMESH_CP_REPLICA_ID: replicaId,
        JETMESH_LOG_LEVEL: "info",
        // Two replicas on one host: no HTTP server, whose default port they would share.
        JETMESH_CP_HTTP_PORT: "0",
        ...env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const cp = new ControlPlaneProcess(replicaId, child);
    await waitFor(() => {
      if (cp.lines.some((line) => line.includes('"control plane started"'))) return true;
      if (child.exitCode !== null) throw new Error(`control plane exited early:\n${cp.lines.join("\n")}`);
      return false;
    }, `control plane ${replicaId} to start`);
    return cp;
  }

  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    await this.exited;
  }
}
