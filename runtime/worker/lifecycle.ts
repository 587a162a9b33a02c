// One stream of job lifecycle transitions, fanned out to everything that follows it: the event
// publisher, the metrics, the heartbeat counters. The job runner reports each transition once.
import type { LifecycleEvent } from "../wire/events.ts";
import type { JobEnvelope } from "../wire/job-message.ts";
import type { LifecycleEventType } from "../wire/subjects.ts";

export type LifecycleDetails = Partial<
  Pick<LifecycleEvent, "durationMs" | "waitMs" | "error" | "retryInMs" | "reason" | "progress">
>;

export interface LifecycleSink {
  publish(type: LifecycleEventType, envelope: JobEnvelope, details?: LifecycleDetails): void;
}

export class LifecycleFanOut implements LifecycleSink {
  constructor(private readonly sinks: readonly LifecycleSink[]) {}

  publish(type: LifecycleEventType, envelope: JobEnvelope, details: LifecycleDetails = {}): void {
    for (const sink of this.sinks) sink.publish(type, envelope, details);
  }
}

/** Totals since the worker started, reported in its heartbeats. */
export class LifecycleCounters implements LifecycleSink {
  readonly totals = { completed: 0, failed: 0, retried: 0, dead: 0, cancelled: 0 };

  publish(type: LifecycleEventType): void {
    if (type === "completed") this.totals.completed++;
    else if (type === "failed") this.totals.failed++;
    else if (type === "retrying") this.totals.retried++;
    else if (type === "dead") this.totals.dead++;
    else if (type === "cancelled") this.totals.cancelled++;
  }
}
