// Composes what an operator asks for — fleet status, queue views, one queue in detail — from
// the three sources of truth: heartbeats (workers, running jobs), JetStream (queue facts) and
// the control bucket (pauses).
import type {
  CommandRecord,
  FleetStatus,
  QueueDetail,
  QueueFacts,
  QueuePauseState,
  QueueView,
  WorkerView,
} from "../api/protocol.ts";
import { unknownQueue } from "../errors.ts";
import type { Mesh } from "../mesh.ts";
import { type ControlRecord, readControlRecords } from "./control-records.ts";
import type { HeartbeatAggregator } from "./heartbeat-aggregator.ts";
import type { QueueStats } from "./queue-stats.ts";

export class FleetStatusView {
  constructor(
    private readonly mesh: Mesh,
    private readonly heartbeats: HeartbeatAggregator,
    private readonly stats: QueueStats,
    private readonly replicaId: string,
  ) {}

  async status(): Promise<FleetStatus> {
    const now = Date.now();
    const queues = await this.queues();
    const workers = this.heartbeats.workers(now);
    const jobs = this.heartbeats.runningJobs(now);
    return {
      at: now,
      replicaId: this.replicaId,
      workers: {
        alive: workers.filter((w) => w.liveness === "alive").length,
        late: workers.filter((w) => w.liveness === "late").length,
        gone: workers.filter((w) => w.liveness === "gone").length,
        draining: workers.filter((w) => w.liveness !== "gone" && w.state === "draining").length,
      },
      jobs: {
        running: jobs.filter((j) => j.state === "running").length,
        awaitingRedelivery: jobs.filter((j) => j.state === "awaiting-redelivery").length,
      },
      queues,
      deadLetters: [...(await this.stats.deadLetterCounts()).values()].reduce((a, b) => a + b, 0),
    };
  }

  async queues(only?: readonly string[]): Promise<QueueView[]> {
    const [facts, pauses] = await Promise.all([
      this.stats.collect(only),
      readControlRecords(this.mesh, "paused.>"),
    ]);
    const workers = this.heartbeats.workers();
    return facts.map((fact) => this.#view(fact, pauses, workers));
  }

  /** Views of queue facts already read (e.g. by the sampling tick), with pauses and heartbeats as they are now. */
  async viewsOf(facts: readonly QueueFacts[]): Promise<QueueView[]> {
    const pauses = await readControlRecords(this.mesh, "paused.>");
    const workers = this.heartbeats.workers();
    return facts.map((fact) => this.#view(fact, pauses, workers));
  }

  async queue(queue: string): Promise<QueueDetail> {
    const [view] = await this.queues([queue]);
    if (view === undefined) throw unknownQueue(queue, await this.stats.queueNames());
    const workers = this.heartbeats
      .workers()
      .filter((w) => w.liveness !== "gone" && w.queues.some((q) => q.queue === queue));
    return {
      ...view,
      runningJobs: this.heartbeats.runningJobs().filter((job) => job.queue === queue),
      workerIds: workers.map((w) => w.workerId),
    };
  }

  #view(fact: QueueFacts, pauses: ControlRecord[], workers: WorkerView[]): QueueView {
    const serving = workers
      .filter((w) => w.liveness !== "gone")
      .flatMap((w) => w.queues.filter((q) => q.queue === fact.queue));
    const pause = pauseState(fact.queue, pauses);
    pause.finishing = serving.filter((q) => q.paused).reduce((sum, q) => sum + q.running, 0);
    return {
      ...fact,
      pause,
      workers: {
        serving: serving.length,
        paused: serving.filter((q) => q.paused).length,
        concurrency: serving.reduce((sum, q) => sum + q.concurrency, 0),
        running: serving.reduce((sum, q) => sum + q.running, 0),
      },
    };
  }
}

export function pauseState(queue: string, records: readonly ControlRecord[]): QueuePauseState {
  const fleetKey = `paused.${queue}`;
  const state: QueuePauseState = { paused: false, pausedOnWorkers: [], finishing: 0 };
  for (const record of records) {
    if (record.key === fleetKey) {
      state.paused = true;
      state.record = commandRecord(record);
    } else if (record.key.startsWith(`${fleetKey}.`)) {
      state.pausedOnWorkers.push({
        workerId: record.key.slice(fleetKey.length + 1),
        record: commandRecord(record),
      });
    }
  }
  return state;
}

export function commandRecord(record: ControlRecord): CommandRecord {
  const v = record.value;
  const result: CommandRecord = {
    by: typeof v.by === "string" ? v.by : "unknown",
    at: typeof v.at === "number" ? v.at : record.writtenAt,
  };
  if (typeof v.reason === "string") result.reason = v.reason;
  if (typeof v.id === "string") result.commandId = v.id;
  if (typeof v.expiresAt === "number") result.expiresAt = v.expiresAt;
  return result;
}
