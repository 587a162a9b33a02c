// Publishes this worker's heartbeat at a fixed interval: who it is, what it serves, what it runs
// right now and how it has fared, for the control plane's live status.
import { hostname } from "node:os";
import type { NatsConnection } from "@nats-io/transport-node";
import { VERSION } from "../version.ts";
import type { Heartbeat } from "../wire/heartbeat.ts";
import type { Subjects } from "../wire/subjects.ts";

export const DEFAULT_HEARTBEAT_INTERVAL_MS = 5000;

export class HeartbeatPublisher {
  #timer: NodeJS.Timeout | undefined;
  readonly #startedAt = Date.now();

  constructor(
    private readonly nc: NatsConnection,
    private readonly subjects: Subjects,
    private readonly workerId: string,
    private readonly intervalMs: number,
    private readonly snapshot: () => Pick<Heartbeat, "state" | "queues" | "jobs" | "counters">,
  ) {}

  start(): void {
    this.publish();
    this.#timer = setInterval(() => this.publish(), this.intervalMs);
    this.#timer.unref();
  }

  publish(): void {
    const memory = process.memoryUsage();
    const heartbeat: Heartbeat = {
      workerId: this.workerId,
      host: hostname(),
      pid: process.pid,
      version: VERSION,
      startedAt: this.#startedAt,
      at: Date.now(),
      intervalMs: this.intervalMs,
      ...this.snapshot(),
      memory: { rssBytes: memory.rss, heapUsedBytes: memory.heapUsed },
    };
    try {
      this.nc.publish(this.subjects.heartbeat(this.workerId), JSON.stringify(heartbeat));
    } catch {
      // Disconnected: the next interval tries again; a missing heartbeat is itself the signal.
    }
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
  }
}
