// `stats`: per queue and job name, counts, error rate, error classes and duration and wait
// percentiles over a recent window (from the outcome window), with each queue's pending jobs
// and their growth (from the queue sampler).
import type { Subscription } from "@nats-io/transport-node";
import { type LifecycleEventType, parseLifecycleEvents } from "../../runtime/index.ts";
import type { QueueJobStats, StatsReport } from "../api/protocol.ts";
import { invalid, unknownQueue } from "../errors.ts";
import type { Mesh } from "../mesh.ts";
import type { QueueStats } from "../status/queue-stats.ts";
import { MAX_WINDOW_MS, OutcomeWindow, SLICE_MS } from "./outcome-window.ts";

export const DEFAULT_STATS_WINDOW_MS = 5 * 60_000;

/** The events the window counts; `progress` (as often as handlers report it) is left out. */
const COUNTED_EVENTS: readonly LifecycleEventType[] = [
  "started",
  "completed",
  "failed",
  "retrying",
  "dead",
  "cancelled",
];

export class JobStats {
  readonly #window = new OutcomeWindow();
  #subscriptions: Subscription[] = [];

  constructor(
    private readonly mesh: Mesh,
    private readonly stats: QueueStats,
    private readonly replicaId: string,
  ) {}

  /** Subscribes to the counted events outside the API's queue group, so each replica sees all. */
  start(): void {
    this.#subscriptions = COUNTED_EVENTS.map((type) =>
      this.mesh.nc.subscribe(this.mesh.subjects.eventFilter("*", type), {
        callback: (_error, msg) => {
          for (const event of parseLifecycleEvents(msg.data)) {
            try {
              this.#window.record(event);
            } catch {
              // not a lifecycle event: ignored
            }
          }
        },
      }),
    );
  }

  stop(): void {
    for (const subscription of this.#subscriptions) subscription.unsubscribe();
    this.#subscriptions = [];
  }

  /** Per queue and job name summaries of the window, without reading JetStream (for live checks). */
  summaries(windowMs: number): ReturnType<OutcomeWindow["summaries"]> {
    return this.#window.summaries(Math.min(windowMs, MAX_WINDOW_MS));
  }

  async report(request: { queue?: string; windowMs?: number }): Promise<StatsReport> {
    const windowMs = request.windowMs ?? DEFAULT_STATS_WINDOW_MS;
    if (windowMs < SLICE_MS || windowMs > MAX_WINDOW_MS)
      throw invalid(
        `the window must be from 10s to 30m (windowMs ${SLICE_MS} to ${MAX_WINDOW_MS}), got ${windowMs} ms`,
        "ask for a shorter window, e.g. --window 15m",
      );
    const facts = await this.stats.collect(request.queue === undefined ? undefined : [request.queue]);
    const summaries = this.#window.summaries(windowMs, request.queue);
    const queues = new Set([...facts.map((f) => f.queue), ...summaries.map((s) => s.queue)]);
    if (request.queue !== undefined && !queues.has(request.queue))
      throw unknownQueue(request.queue, await this.stats.queueNames());
    const reports: QueueJobStats[] = [...queues].sort().map((queue) => {
      const fact = facts.find((f) => f.queue === queue);
      return {
        queue,
        pending: fact?.pending ?? null,
        pendingGrowthPerSec: fact?.rates?.pendingGrowthPerSec ?? null,
        total: this.#window.total(windowMs, queue),
        jobs: summaries.filter((s) => s.queue === queue).map((s) => ({ name: s.name, ...s.summary })),
      };
    });
    return {
      at: Date.now(),
      replicaId: this.replicaId,
      windowMs,
      coveredMs: this.#window.coveredMs(windowMs),
      queues: reports,
    };
  }
}
