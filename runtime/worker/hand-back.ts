// Returns a job to its queue without charging an attempt (shutdown, pause): JetStream counts
// every redelivery, so the job is re-published carrying its current attempt number, and the
// delivery we hold is acknowledged only after the copy is stored.
import type { JetStreamClient } from "@nats-io/jetstream";
import { headers as createHeaders } from "@nats-io/transport-node";
import type { Delivery } from "../jetstream/delivery.ts";
import { Header } from "../wire/headers.ts";

export async function handBack(
  js: JetStreamClient,
  msg: Delivery,
  jobId: string,
  attempt: number,
): Promise<void> {
  const h = createHeaders();
  for (const [key, values] of msg.headers ?? []) {
    if (key.toLowerCase() === Header.Attempt.toLowerCase() || key.toLowerCase() === "nats-msg-id") continue;
    for (const value of values) h.append(key, value);
  }
  h.set(Header.JobId, jobId);
  if (attempt > 1) h.set(Header.Attempt, String(attempt));
  await js.publish(msg.subject, msg.data, {
    headers: h,
    msgID: `${jobId}:back:${msg.stream}:${msg.seq}:${msg.deliveryCount}`,
  });
  msg.ack();
}
