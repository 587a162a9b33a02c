// End-to-end time per queue and job name: from a job's first enqueue to its final outcome
// (completed, dead or cancelled), across retries and backoffs, as a histogram. The enqueue time
// comes from the `waitMs` of the job's `started` events, remembered until the job ends; every
// replica receives every event (no queue group), so each exports the same histogram.
import type { Subscription } from "@nats-io/transport-node";
import { Histogram } from "prom-client";
import { type LifecycleEvent, type LifecycleEventType, parseLifecycleEvents } from "../../runtime/index.ts";
import type { Mesh } from "../mesh.ts";

const EVENTS: readonly LifecycleEventType[] = ["started", "completed", "dead", "cancelled"];
/** Jobs remembered between their start and their end; the oldest are forgotten beyond it. */
const MAX_TRACKED = 100_000;

export class EndToEndTracker {
  readonly histogram = new Histogram({
    name: "jetmesh_job_end_to_end_seconds",
    help: "Time from a job's first enqueue to its final outcome (completed, dead, cancelled), across retries and backoffs.",
    labelNames: ["queue", "name", "outcome"],
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600, 21_600, 86_400],
    registers: [],
  });
  readonly #enqueuedAt = new Map<string, number>();
  #subscriptions: Subscription[] = [];

  constructor(private readonly mesh: Mesh) {}

  start(): void {
    this.#subscriptions = EVENTS.map((type) =>
      this.mesh.nc.subscribe(this.mesh.subjects.eventFilter("*", type), {
        callback: (_error, msg) => {
          for (const event of parseLifecycleEvents(msg.data)) {
            try {
              this.record(event);
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

  record(event: LifecycleEvent): void {
    if (typeof event.jobId !== "string" || typeof event.at !== "number") return;
    if (event.type === "started") {
      if (event.waitMs === undefined || this.#enqueuedAt.has(event.jobId)) return;
      if (this.#enqueuedAt.size >= MAX_TRACKED) {
        const oldest = this.#enqueuedAt.keys().next().value;
        if (oldest !== undefined) this.#enqueuedAt.delete(oldest);
      }
      this.#enqueuedAt.set(event.jobId, event.at - event.waitMs);
      return;
    }
    // A job that ended in the turn it started sent no `started`: its own event carries the wait.
    const enqueuedAt =
      this.#enqueuedAt.get(event.jobId) ??
      (event.waitMs === undefined ? undefined : event.at - (event.durationMs ?? 0) - event.waitMs);
    this.#enqueuedAt.delete(event.jobId);
    if (enqueuedAt === undefined) return;
    this.histogram.observe(
      { queue: event.queue, name: event.name, outcome: event.type },
      Math.max(0, event.at - enqueuedAt) / 1000,
    );
  }
}
