// The `health` answer: stalled queues with their likely cause, and running jobs past their job
// name's p99. The sampling tick refreshes it (so `/metrics` reads it without a JetStream call);
// a `health` request computes it afresh.
import type { HealthReport, QueueStall, SlowJob } from "../api/protocol.ts";
import type { JobStats } from "../metrics/job-stats.ts";
import type { FleetStatusView } from "../status/fleet-status.ts";
import type { HeartbeatAggregator } from "../status/heartbeat-aggregator.ts";
import type { QueueSnapshot, QueueStats } from "../status/queue-stats.ts";
import { slowOutliers } from "./slow-outliers.ts";
import { StallDetector } from "./stall-detector.ts";

export interface QueueHealthOptions {
  stallWindowMs: number;
  outlierWindowMs: number;
  outlierMinSamples: number;
}

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
    };
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
