// The `health` answer: stalled queues with their likely cause, and running jobs past their job
// name's p99. The sampling tick refreshes it (so `/metrics` reads it without a JetStream call);
// a `health` request computes it afresh.
import { WORKER_DEFAULTS } from "../../runtime/index.ts";
import type { HealthReport, QueueScaling, QueueStall, SlowJob } from "../api/protocol.ts";
import type { JobStats } from "../metrics/job-stats.ts";
import type { FleetStatusView } from "../status/fleet-status.ts";
import type { HeartbeatAggregator } from "../status/heartbeat-aggregator.ts";
import type { QueueSnapshot, QueueStats } from "../status/queue-stats.ts";
import { desiredWorkers, slotsPerWorker, typicalDurationMs } from "./autoscaling.ts";
import { slowOutliers } from "./slow-outliers.ts";
import { StallDetector } from "./stall-detector.ts";

export interface QueueHealthOptions {
  stallWindowMs: number;
  outlierWindowMs: number;
  outlierMinSamples: number;
  /** How soon the autoscaling signal means to clear a queue's backlog. */
  drainTargetMs: number;
}

/** Durations behind the autoscaling signal: the default stats window, recent but not jumpy. */
const SCALING_WINDOW_MS = 5 * 60_000;

export interface QueueHealthSources {
  stats: QueueStats;
  fleet: FleetStatusView;
  heartbeats: HeartbeatAggregator;
  jobStats: JobStats;
  replicaId: string;
}

export class QueueHealth {
  readonly #detector: StallDetector;
  #stalls: QueueStall[] = [];
  #slowJobs: SlowJob[] = [];

  constructor(
    private readonly sources: QueueHealthSources,
    private readonly options: QueueHealthOptions,
  ) {
    this.#detector = new StallDetector(options.stallWindowMs);
  }

  /** After each sampling tick: takes the queue facts it read, and re-assesses every queue. */
  async refresh(): Promise<void> {
    const snapshots = this.sources.stats.latest();
    this.#detector.observe(snapshots);
    this.#detector.retain(new Set(snapshots.map((s) => s.queue)));
    this.#stalls = this.#detector.assess(await this.sources.fleet.viewsOf(snapshots));
    this.#slowJobs = this.#slow();
  }

  /** Computed now: reads the queues afresh. */
  async report(queue?: string): Promise<HealthReport> {
    const views = await this.sources.fleet.queues(queue === undefined ? undefined : [queue]);
    const fresh = new Set(views.map((v) => v.queue));
    this.#detector.observe(this.sources.stats.latest().filter((s: QueueSnapshot) => fresh.has(s.queue)));
    const now = Date.now();
    return {
      at: now,
      replicaId: this.sources.replicaId,
      stallWindowMs: this.options.stallWindowMs,
      watchedForMs: this.#detector.watchedForMs(now),
      stalls: this.#detector.assess(views, now),
      outlierWindowMs: this.options.outlierWindowMs,
      outlierMinSamples: this.options.outlierMinSamples,
      slowJobs: this.#slow().filter((job) => queue === undefined || job.queue === queue),
      drainTargetMs: this.options.drainTargetMs,
      scaling: this.scaling().filter((s) => queue === undefined || s.queue === queue),
    };
  }

  /** The autoscaling signal of every queue, from the last queue facts read, heartbeats and durations. */
  scaling(): QueueScaling[] {
    const workers = this.sources.heartbeats.workers();
    const summaries = this.sources.jobStats.summaries(SCALING_WINDOW_MS);
    return this.sources.stats.latest().map((snapshot) => {
      const serving = workers.filter(
        (w) => w.liveness !== "gone" && w.queues.some((q) => q.queue === snapshot.queue),
      ).length;
      const input = {
        arrivalPerSec: snapshot.rates?.enqueuedPerSec ?? null,
        pending: snapshot.pending,
        inFlight: snapshot.inFlight,
        durationMs: typicalDurationMs(snapshot.queue, summaries),
        slotsPerWorker: slotsPerWorker(snapshot.queue, workers, WORKER_DEFAULTS.concurrency),
        serving,
      };
      return {
        queue: snapshot.queue,
        desiredWorkers: desiredWorkers(input, this.options.drainTargetMs),
        ...input,
      };
    });
  }

  /** As of the last refresh (for `/metrics`). */
  stalls(): readonly QueueStall[] {
    return this.#stalls;
  }

  slowJobs(): readonly SlowJob[] {
    return this.#slowJobs;
  }

  #slow(): SlowJob[] {
    const lastSeenAt = new Map(this.sources.heartbeats.workers().map((w) => [w.workerId, w.lastSeenAt]));
    return slowOutliers(
      this.sources.heartbeats.runningJobs(),
      lastSeenAt,
      this.sources.jobStats.summaries(this.options.outlierWindowMs),
      this.options.outlierMinSamples,
    );
  }
}
