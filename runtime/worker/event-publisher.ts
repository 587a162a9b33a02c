// Publishes lifecycle events for live listeners. Events are core NATS messages (not stored):
// losing one never affects a job, so a publish failure is logged and forgotten.
// Events were two of a worker's three messages per job, so the hot path here is kept lean: the
// `started` of a job that completes in the event-loop turn it started in is left out (its wait
// time travels on `completed`), subjects are built once per queue and type, and the JSON is
// written from a template (docs/wire-format.md, "Lifecycle events").
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import type { JobEnvelope } from "../wire/job-message.ts";
import type { LifecycleEventType, Subjects } from "../wire/subjects.ts";
import type { LifecycleDetails, LifecycleSink } from "./lifecycle.ts";

/** Job names whose head is kept per queue: names come from producers, so the cache is bounded. */
const MAX_CACHED_NAMES = 1_000;

interface PendingStart {
  at: number;
  details: LifecycleDetails;
}

export class EventPublisher implements LifecycleSink {
  /** `started` events held until the end of the turn, by the delivery's envelope. */
  readonly #pendingStarts = new Map<JobEnvelope, PendingStart>();
  #flushScheduled = false;
  readonly #subjects = new Map<string, Map<LifecycleEventType, string>>();
  /** `,"queue":…,"name":…,"workerId":…` by queue and job name: the same for every job of a name. */
  readonly #heads = new Map<string, Map<string, string>>();
  readonly #workerIdJson: string;

  constructor(
    private readonly nc: NatsConnection,
    private readonly subjects: Subjects,
    workerId: string,
    private readonly logger: Logger,
  ) {
    this.#workerIdJson = JSON.stringify(workerId);
  }

  publish(type: LifecycleEventType, envelope: JobEnvelope, details: LifecycleDetails = {}): void {
    if (type === "started") {
      this.#pendingStarts.set(envelope, { at: Date.now(), details });
      if (!this.#flushScheduled) {
        this.#flushScheduled = true;
        setImmediate(() => this.#flushStarts());
      }
      return;
    }
    const pending = this.#pendingStarts.get(envelope);
    if (pending !== undefined) {
      this.#pendingStarts.delete(envelope);
      if (type === "completed") {
        if (pending.details.waitMs !== undefined) details = { ...details, waitMs: pending.details.waitMs };
      } else {
        // Anything else (a failure, progress, a cancel) keeps the full story: started first.
        this.#send("started", envelope, pending.at, pending.details);
      }
    }
    this.#send(type, envelope, Date.now(), details);
  }

  #flushStarts(): void {
    this.#flushScheduled = false;
    for (const [envelope, pending] of this.#pendingStarts) {
      this.#send("started", envelope, pending.at, pending.details);
    }
    this.#pendingStarts.clear();
  }

  #send(type: LifecycleEventType, envelope: JobEnvelope, at: number, details: LifecycleDetails): void {
    try {
      let json = `{"type":"${type}","jobId":${JSON.stringify(envelope.id)}${this.#head(envelope)},"attempt":${envelope.attempt},"at":${at}`;
      for (const key in details) {
        const value = JSON.stringify(details[key as keyof LifecycleDetails]);
        // Undefined (and what JSON cannot hold) is left out, as JSON.stringify of an object would.
        if (value !== undefined) json += `,"${key}":${value}`;
      }
      this.nc.publish(this.#subject(envelope.queue, type), `${json}}`);
    } catch (error) {
      this.logger.debug({ err: error, type }, "lifecycle event not published");
    }
  }

  #subject(queue: string, type: LifecycleEventType): string {
    let byType = this.#subjects.get(queue);
    if (byType === undefined) {
      byType = new Map();
      this.#subjects.set(queue, byType);
    }
    let subject = byType.get(type);
    if (subject === undefined) {
      subject = this.subjects.event(queue, type);
      byType.set(type, subject);
    }
    return subject;
  }

  #head(envelope: JobEnvelope): string {
    let byName = this.#heads.get(envelope.queue);
    if (byName === undefined) {
      byName = new Map();
      this.#heads.set(envelope.queue, byName);
    }
    let head = byName.get(envelope.name);
    if (head === undefined) {
      head = `,"queue":${JSON.stringify(envelope.queue)},"name":${JSON.stringify(envelope.name)},"workerId":${this.#workerIdJson}`;
      if (byName.size < MAX_CACHED_NAMES) byName.set(envelope.name, head);
    }
    return head;
  }
}
