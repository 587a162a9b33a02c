// Prometheus metrics of a control plane replica (docs/metrics.md lists every family): what no
// single worker can see — each queue's backlog as JetStream holds it, and the fleet's liveness
// as heartbeats tell it. Everything is read at scrape time from what the replica already holds
// (the queue facts of its last sampling tick, the heartbeats in memory), so a scrape costs no
// JetStream request, and every replica exports the same values: dashboards take `max by`.
import { Counter, collectDefaultMetrics, Gauge, Registry } from "prom-client";
import type { Liveness } from "../api/protocol.ts";
import type { HeartbeatAggregator } from "../status/heartbeat-aggregator.ts";
import type { QueueSnapshot, QueueStats } from "../status/queue-stats.ts";

const LIVENESS: readonly Liveness[] = ["alive", "late", "gone"];

export class ControlPlaneMetrics {
  readonly registry = new Registry();

  constructor(sources: {
    stats: Pick<QueueStats, "latest">;
    heartbeats: Pick<HeartbeatAggregator, "workers">;
    now?: () => number;
  }) {
    const now = sources.now ?? Date.now;
    const registers = [this.registry];
    const queueGauge = (name: string, help: string, value: (queue: QueueSnapshot) => number) =>
      perQueueGauge(registers, name, help, () => sources.stats.latest().map((q) => [q.queue, value(q)]));
    queueGauge(
      "jetmesh_queue_pending",
      "Jobs waiting to be handed to a worker (the consumer's num_pending).",
      (q) => q.pending,
    );
    queueGauge(
      "jetmesh_queue_in_flight",
      "Jobs handed to a worker and not yet acknowledged (num_ack_pending).",
      (q) => q.inFlight,
    );
    queueGauge(
      "jetmesh_queue_max_in_flight",
      "Fleet-wide limit of jobs in flight (the consumer's max_ack_pending).",
      (q) => q.maxInFlight,
    );
    queueGauge(
      "jetmesh_queue_redelivered",
      "Jobs delivered more than once and not yet acknowledged (num_redelivered).",
      (q) => q.redelivered,
    );
    queueGauge(
      "jetmesh_queue_backlog",
      "Jobs in the queue's stream: waiting plus in flight.",
      (q) => q.backlog,
    );
    queueGauge("jetmesh_queue_dead_letters", "Jobs of the queue in the dead-letter stream.", (q) => q.dead);
    queueGauge(
      "jetmesh_queue_oldest_waiting_age_seconds",
      "Age of the oldest job waiting to be handed to a worker; 0 when none waits.",
      (q) => (q.oldestWaitingAt === null ? 0 : Math.max(0, now() - q.oldestWaitingAt) / 1000),
    );
    queueGauge(
      "jetmesh_queue_pending_growth_rate",
      "Change of the pending jobs per second over the rate window: positive grows, negative drains.",
      (q) => q.rates?.pendingGrowthPerSec ?? 0,
    );
    new Counter({
      name: "jetmesh_queue_enqueued_total",
      help: "Jobs ever stored in the queue (the stream's last sequence): enqueues, retries from the dead-letter stream, hand-backs.",
      labelNames: ["queue"],
      registers,
      collect() {
        this.reset();
        for (const queue of sources.stats.latest()) this.inc({ queue: queue.queue }, queue.lastSeq);
      },
    });
    new Gauge({
      name: "jetmesh_queue_sampled_timestamp_seconds",
      help: "When the queue figures were last read from JetStream (Unix time).",
      labelNames: ["queue"],
      registers,
      collect() {
        this.reset();
        for (const queue of sources.stats.latest()) this.set({ queue: queue.queue }, queue.at / 1000);
      },
    });
    new Gauge({
      name: "jetmesh_fleet_workers",
      help: "Workers by liveness (alive, late, gone), from their heartbeats.",
      labelNames: ["liveness"],
      registers,
      collect() {
        const workers = sources.heartbeats.workers();
        for (const liveness of LIVENESS)
          this.set({ liveness }, workers.filter((w) => w.liveness === liveness).length);
      },
    });
    new Gauge({
      name: "jetmesh_fleet_heartbeat_age_seconds",
      help: "Time since each known worker's last heartbeat; gone workers stay until the heartbeat retention ends.",
      labelNames: ["worker_id"],
      registers,
      collect() {
        this.reset();
        for (const worker of sources.heartbeats.workers())
          this.set({ worker_id: worker.workerId }, worker.lastSeenAgoMs / 1000);
      },
    });
    const servingGauge = (name: string, help: string, field: "running" | "concurrency") =>
      perQueueGauge(registers, name, help, () => {
        const totals = new Map<string, number>();
        for (const queue of sources.stats.latest()) totals.set(queue.queue, 0);
        for (const worker of sources.heartbeats.workers()) {
          if (worker.liveness === "gone") continue;
          for (const served of worker.queues)
            totals.set(served.queue, (totals.get(served.queue) ?? 0) + served[field]);
        }
        return totals;
      });
    servingGauge(
      "jetmesh_fleet_jobs_running",
      "Jobs running on alive and late workers, by their last heartbeats.",
      "running",
    );
    servingGauge(
      "jetmesh_fleet_capacity",
      "Job slots of alive and late workers serving the queue, by their last heartbeats.",
      "concurrency",
    );
    collectDefaultMetrics({ register: this.registry });
  }
}

/** A gauge with one series per queue, read at scrape time; a queue `series` leaves out has none. */
export function perQueueGauge(
  registers: Registry[],
  name: string,
  help: string,
  series: () => Iterable<[string, number]>,
): Gauge {
  return new Gauge({
    name,
    help,
    labelNames: ["queue"],
    registers,
    collect() {
      this.reset();
      for (const [queue, value] of series()) this.set({ queue }, value);
    },
  });
}
