// Returns a job to its queue without charging an attempt (shutdown, pause): JetStream counts
// every redelivery, so the job is re-published carrying its current attempt number, and the
// delivery we hold is acknowledged only after the copy is stored.
import type { JetStreamClient } from "@nats-io/jetstream";
import { headers as createHeaders, type MsgHdrs } from "@nats-io/transport-node";
import type { Delivery } from "../jetstream/delivery.ts";
import { Header } from "../wire/headers.ts";

export async function handBack(
  js: JetStreamClient,
  msg: Delivery,
  jobId: string,
  attempt: number,
): Promise<void> {
  await js.publish(msg.subject, msg.data, {
    headers: carriedHeaders(msg, jobId, attempt),
    msgID: `${jobId}:back:${msg.stream}:${msg.seq}:${msg.deliveryCount}`,
  });
  msg.ack();
}

/**
 * The headers a job keeps when it is stored again (handed back, or moved to the delay store):
 * all of them, with its job id and the attempt its next delivery is, and without the message
 * id and due time of the copy it replaces.
 */
export function carriedHeaders(msg: Delivery, jobId: string, attempt: number): MsgHdrs {
  const h = createHeaders();
  for (const [key, values] of msg.headers ?? []) {
    if (REPLACED.has(key.toLowerCase())) continue;
    for (const value of values) h.append(key, value);
  }
  h.set(Header.JobId, jobId);
  if (attempt > 1) h.set(Header.Attempt, String(attempt));
  return h;
}

const REPLACED = new Set(
  [Header.Attempt, Header.MsgId, Header.DueAt, Header.Subject].map((name) => name.toLowerCase()),
);
