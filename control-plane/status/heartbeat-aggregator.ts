// Turns worker heartbeats into live fleet status. Heartbeats arrive on `<prefix>.hb.<workerId>`;
// a stream keeps the last one of each worker, so a replica that starts (or restarts) knows the
// whole fleet at once instead of after one interval, and every replica sees the same workers.
import { DiscardPolicy, RetentionPolicy, StorageType } from "@nats-io/jetstream";
import { nanos, type Subscription } from "@nats-io/transport-node";
import type { Logger } from "pino";
import type { Heartbeat } from "../../runtime/index.ts";
import type { RunningJobView, WorkerView } from "../api/protocol.ts";
import { isNotFound, type Mesh } from "../mesh.ts";
import { heartbeatStream } from "../names.ts";
import { livenessOf } from "./liveness.ts";

export interface HeartbeatAggregatorOptions {
  /** How long a gone worker stays listed (also the heartbeat stream's max age). */
  retentionMs: number;
  /** Replicas of the heartbeat stream when this replica creates it. */
  replicas: number;
  now?: () => number;
}

interface Seen {
  heartbeat: Heartbeat;
  /** When this replica received it (or JetStream stored it), ms since epoch. */
  receivedAt: number;
}

export class HeartbeatAggregator {
  readonly #workers = new Map<string, Seen>();
  readonly #now: () => number;
  #subscription: Subscription | undefined;

  constructor(
    private readonly mesh: Mesh,
    private readonly logger: Logger,
    private readonly options: HeartbeatAggregatorOptions,
  ) {
    this.#now = options.now ?? Date.now;
  }

  /** Subscribes first, then loads the stored heartbeats, so nothing published meanwhile is missed. */
  async start(): Promise<void> {
    await this.#ensureStream();
    this.#subscription = this.mesh.nc.subscribe(this.mesh.subjects.heartbeat(">"), {
      callback: (_error, msg) => {
        let heartbeat: unknown;
        try {
          heartbeat = msg.json();
        } catch {
          return;
        }
        this.record(heartbeat, this.#now());
      },
    });
    await this.#loadStored();
  }

  stop(): void {
    this.#subscription?.unsubscribe();
    this.#subscription = undefined;
  }

  /** Takes one heartbeat into account; malformed ones are ignored. */
  record(value: unknown, receivedAt: number): void {
    if (!isHeartbeat(value)) {
      this.logger.debug("ignored a malformed heartbeat");
      return;
    }
    const known = this.#workers.get(value.workerId);
    if (known !== undefined && known.receivedAt > receivedAt) return;
    this.#workers.set(value.workerId, { heartbeat: value, receivedAt });
  }

  get size(): number {
    return this.#workers.size;
  }

  /** Every known worker with its liveness now; workers gone longer than the retention are forgotten. */
  workers(now = this.#now()): WorkerView[] {
    const views: WorkerView[] = [];
    for (const [workerId, seen] of this.#workers) {
      const silentForMs = Math.max(0, now - seen.receivedAt);
      if (silentForMs > this.options.retentionMs) {
        this.#workers.delete(workerId);
        continue;
      }
      const hb = seen.heartbeat;
      views.push({
        workerId,
        host: hb.host,
        pid: hb.pid,
        version: hb.version,
        liveness: livenessOf(silentForMs, hb.intervalMs, hb.state),
        state: hb.state,
        startedAt: hb.startedAt,
        lastSeenAt: seen.receivedAt,
        lastSeenAgoMs: silentForMs,
        intervalMs: hb.intervalMs,
        queues: hb.queues,
        runningJobs: hb.jobs.length,
        counters: hb.counters,
        memory: hb.memory,
      });
    }
    return views.sort((a, b) => a.workerId.localeCompare(b.workerId));
  }

  /**
   * Jobs the fleet runs now, by the last heartbeat of each worker. Jobs of a gone worker are
   * listed as awaiting redelivery: JetStream hands them out again once their lease expires.
   */
  runningJobs(now = this.#now()): RunningJobView[] {
    const jobs: RunningJobView[] = [];
    for (const worker of this.workers(now)) {
      const seen = this.#workers.get(worker.workerId);
      if (seen === undefined) continue;
      for (const job of seen.heartbeat.jobs) {
        jobs.push({
          ...job,
          workerId: worker.workerId,
          host: worker.host,
          state: worker.liveness === "gone" ? "awaiting-redelivery" : "running",
          runningForMs: Math.max(0, now - job.startedAt),
        });
      }
    }
    // A job redelivered to a live worker no longer awaits redelivery: list it only where it runs.
    const runningLive = new Set(jobs.filter((job) => job.state === "running").map((job) => job.jobId));
    return jobs
      .filter((job) => job.state === "running" || !runningLive.has(job.jobId))
      .sort((a, b) => a.startedAt - b.startedAt);
  }

  findJob(jobId: string, now = this.#now()): RunningJobView | undefined {
    return this.runningJobs(now).find((job) => job.jobId === jobId);
  }

  async #ensureStream(): Promise<void> {
    const name = heartbeatStream(this.mesh.prefix);
    try {
      await this.mesh.jsm.streams.info(name);
      return;
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
    await this.mesh.jsm.streams.add({
      name,
      subjects: [this.mesh.subjects.heartbeat(">")],
      retention: RetentionPolicy.Limits,
      discard: DiscardPolicy.Old,
      storage: StorageType.File,
      num_replicas: this.options.replicas,
      max_msgs_per_subject: 1,
      max_age: nanos(this.options.retentionMs),
    });
    this.logger.info({ stream: name }, "created the heartbeat stream");
  }

  async #loadStored(): Promise<void> {
    const stream = heartbeatStream(this.mesh.prefix);
    const info = await this.mesh.jsm.streams.info(stream, {
      subjects_filter: this.mesh.subjects.heartbeat(">"),
    });
    const subjects = Object.keys(info.state.subjects ?? {});
    for (let start = 0; start < subjects.length; start += 100) {
      const batch = subjects.slice(start, start + 100);
      const messages = await Promise.all(
        batch.map((subject) =>
          this.mesh.jsm.streams.getMessage(stream, { last_by_subj: subject }).catch(() => null),
        ),
      );
      for (const msg of messages) {
        if (msg === null) continue;
        try {
          this.record(msg.json(), msg.time.getTime());
        } catch {
          // an unreadable stored heartbeat is skipped; the next live one replaces it
        }
      }
    }
    this.logger.debug({ workers: this.#workers.size }, "loaded stored heartbeats");
  }
}

function isHeartbeat(value: unknown): value is Heartbeat {
  const hb = value as Partial<Heartbeat> | null;
  return (
    typeof hb === "object" &&
    hb !== null &&
    typeof hb.workerId === "string" &&
    typeof hb.intervalMs === "number" &&
    hb.intervalMs > 0 &&
    Array.isArray(hb.queues) &&
    Array.isArray(hb.jobs)
  );
}
