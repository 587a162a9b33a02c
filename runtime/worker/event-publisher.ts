// Publishes lifecycle events for live listeners. Events are core NATS messages (not stored):
// losing one never affects a job, so a publish failure is logged and forgotten.
// Events were two of a worker's three messages per job, so the hot path here is kept lean: the
// `started` of a job that completes in the event-loop turn it started in is left out (its wait
// time travels on `completed`), the events of one turn go out at its end as one message per
// subject (newline-separated JSON), subjects are built once per queue and type, and the JSON is
// written from a template (docs/wire-format.md, "Lifecycle events").
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { LIFECYCLE_EVENT_SEPARATOR } from "../wire/events.ts";
import type { JobEnvelope } from "../wire/job-message.ts";
import type { LifecycleEventType, Subjects } from "../wire/subjects.ts";
import type { LifecycleDetails, LifecycleSink } from "./lifecycle.ts";

/** Job names whose head is kept per queue: names come from producers, so the cache is bounded. */
const MAX_CACHED_NAMES = 1_000;
/** Events per message, and its size in characters (≤ 3 bytes each): far below any max_payload. */
const MAX_BATCH_EVENTS = 256;
const MAX_BATCH_CHARS = 64 * 1024;

interface PendingStart {
  at: number;
  details: LifecycleDetails;
}

/** The events of one message to be sent: one subject, in publish order. */
interface Batch {
  subject: string;
  body: string;
  count: number;
  /** Its place among the turn's batches, which are sent in that order. */
  index: number;
}

export class EventPublisher implements LifecycleSink {
  /** `started` events held until the end of the turn, by the delivery's envelope. */
  readonly #pendingStarts = new Map<JobEnvelope, PendingStart>();
  /** The turn's messages, in the order they are sent. */
  #batches: Batch[] = [];
  /** The batch of each subject that still takes events. */
  readonly #openBatches = new Map<string, Batch>();
  /** The latest batch holding an event of a delivery: its later events may not go before it. */
  readonly #lastBatchOf = new Map<JobEnvelope, number>();
  #flushScheduled = false;
  readonly #flushAtTurnEnd = (): void => this.flush();
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
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(this.#flushAtTurnEnd);
    }
    if (type === "started") {
      this.#pendingStarts.set(envelope, { at: Date.now(), details });
      return;
    }
    const pending = this.#pendingStarts.get(envelope);
    if (pending !== undefined) {
      this.#pendingStarts.delete(envelope);
      if (type === "completed") {
        if (pending.details.waitMs !== undefined) details = { ...details, waitMs: pending.details.waitMs };
      } else {
        // Anything else (a failure, progress, a cancel) keeps the full story: started first.
        this.#add("started", envelope, pending.at, pending.details);
      }
    }
    this.#add(type, envelope, Date.now(), details);
  }

  /** Sends every event held so far: at the end of each turn, and before the connection closes. */
  flush(): void {
    this.#flushScheduled = false;
    for (const [envelope, pending] of this.#pendingStarts) {
      this.#add("started", envelope, pending.at, pending.details);
    }
    this.#pendingStarts.clear();
    const batches = this.#batches;
    this.#batches = [];
    this.#openBatches.clear();
    this.#lastBatchOf.clear();
    for (const batch of batches) {
      try {
        this.nc.publish(batch.subject, batch.body);
      } catch (error) {
        this.logger.debug(
          { err: error, subject: batch.subject, events: batch.count },
          "lifecycle events not published",
        );
      }
    }
  }

  #add(type: LifecycleEventType, envelope: JobEnvelope, at: number, details: LifecycleDetails): void {
    let json = `{"type":"${type}","jobId":${JSON.stringify(envelope.id)}${this.#head(envelope)},"attempt":${envelope.attempt},"at":${at}`;
    try {
      for (const key in details) {
        const value = JSON.stringify(details[key as keyof LifecycleDetails]);
        // Undefined (and what JSON cannot hold) is left out, as JSON.stringify of an object would.
        if (value !== undefined) json += `,"${key}":${value}`;
      }
    } catch (error) {
      // A progress value JSON cannot hold (a cycle, a BigInt) costs this event only.
      this.logger.debug({ err: error, type }, "lifecycle event not published");
      return;
    }
    json += "}";
    const subject = this.#subject(envelope.queue, type);
    const after = this.#lastBatchOf.get(envelope) ?? -1;
    let batch = this.#openBatches.get(subject);
    if (
      batch === undefined ||
      batch.index < after ||
      batch.count >= MAX_BATCH_EVENTS ||
      batch.body.length + json.length >= MAX_BATCH_CHARS
    ) {
      batch = { subject, body: json, count: 1, index: this.#batches.length };
      this.#batches.push(batch);
      this.#openBatches.set(subject, batch);
    } else {
      batch.body += LIFECYCLE_EVENT_SEPARATOR + json;
      batch.count++;
    }
    this.#lastBatchOf.set(envelope, batch.index);
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
