// Publishes lifecycle events for live listeners. Events are core NATS messages (not stored):
// losing one never affects a job, so a publish failure is logged and forgotten.
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import type { LifecycleEvent } from "../wire/events.ts";
import type { JobEnvelope } from "../wire/job-message.ts";
import type { LifecycleEventType, Subjects } from "../wire/subjects.ts";
import type { LifecycleDetails, LifecycleSink } from "./lifecycle.ts";

export class EventPublisher implements LifecycleSink {
  constructor(
    private readonly nc: NatsConnection,
    private readonly subjects: Subjects,
    private readonly workerId: string,
    private readonly logger: Logger,
  ) {}

  publish(type: LifecycleEventType, envelope: JobEnvelope, details: LifecycleDetails = {}): void {
    const event: LifecycleEvent = {
      type,
      jobId: envelope.id,
      queue: envelope.queue,
      name: envelope.name,
      attempt: envelope.attempt,
      workerId: this.workerId,
      at: Date.now(),
      ...details,
    };
    try {
      this.nc.publish(this.subjects.event(envelope.queue, type), JSON.stringify(event));
    } catch (error) {
      this.logger.debug({ err: error, type }, "lifecycle event not published");
    }
  }
}
