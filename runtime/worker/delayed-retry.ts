// Waits that must not hold a queue slot: a retry delay longer than a delayed nak should cover,
// and a job that reached its queue before its due time. Both leave the consumer: the job is
// stored in the delay store for its next attempt, then the delivery is acknowledged, so nothing
// stays ack-pending while it waits (docs/scheduling.md, "Long retries").
import type { JetStreamClient } from "@nats-io/jetstream";
import type { Logger } from "pino";
import type { Delivery } from "../jetstream/delivery.ts";
import { storeDelayed } from "../scheduling/delay-store.ts";
import type { JobEnvelope } from "../wire/job-message.ts";
import type { Subjects } from "../wire/subjects.ts";
import { carriedHeaders } from "./hand-back.ts";

/**
 * Longest retry delay applied with a delayed nak, which keeps the job's MaxAckPending slot while
 * it waits; longer delays go through the delay store.
 */
export const MAX_NAK_DELAY_MS = 10_000;

/**
 * A job is early (and goes back to the delay store) only when due more than this far ahead:
 * the margin absorbs clock differences between the scheduler's host and the worker's.
 */
export const EARLY_TOLERANCE_MS = 1000;

export interface DelayTarget {
  js: JetStreamClient;
  subjects: Subjects;
  logger: Logger;
  queue: { ackWaitMs: number };
}

/**
 * Schedules the job's next attempt `delayMs` from now: a delayed nak up to MAX_NAK_DELAY_MS or
 * the queue's lease (ack wait), whichever is shorter; the delay store beyond.
 */
export async function retryAfter(
  target: DelayTarget,
  msg: Delivery,
  envelope: JobEnvelope,
  delayMs: number,
): Promise<void> {
  if (delayMs <= Math.min(MAX_NAK_DELAY_MS, target.queue.ackWaitMs)) {
    msg.nak(delayMs);
    return;
  }
  await moveToDelayStore(target, msg, envelope, envelope.attempt + 1, Date.now() + delayMs);
}

/** True when the job reached its queue well before its due time (a foreign producer's delayed job). */
export function isEarly(envelope: JobEnvelope, now = Date.now()): boolean {
  return envelope.dueAt !== undefined && envelope.dueAt > now + EARLY_TOLERANCE_MS;
}

/** Returns an early job to the delay store without charging it an attempt. */
export function deferUntilDue(target: DelayTarget, msg: Delivery, envelope: JobEnvelope): Promise<void> {
  return moveToDelayStore(target, msg, envelope, envelope.attempt, envelope.dueAt ?? Date.now());
}

/**
 * Stores the job for `attempt` at `dueAt`, then acknowledges the delivery. The store write is
 * de-duplicated by job id and attempt, so a worker that dies between the two steps and the
 * redelivery that follows store one copy. If the store refuses, the delivery is nakked instead
 * and comes back: nothing is lost.
 */
async function moveToDelayStore(
  target: DelayTarget,
  msg: Delivery,
  envelope: JobEnvelope,
  attempt: number,
  dueAt: number,
): Promise<void> {
  try {
    await storeDelayed(target.js, target.subjects, {
      queue: envelope.queue,
      name: envelope.name,
      dueAt,
      data: msg.data,
      headers: carriedHeaders(msg, envelope.id, attempt),
      msgId: `${envelope.id}:${attempt}`,
    });
  } catch (error) {
    target.logger.warn(
      { err: error, jobId: envelope.id, attempt },
      "could not store the job in the delay store; it will be redelivered",
    );
    msg.nak(MAX_NAK_DELAY_MS);
    return;
  }
  msg.ack();
}
