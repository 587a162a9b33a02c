// Moves a job to the dead-letter stream: publish a copy with failure headers, wait for
// JetStream to store it, and only then remove the original. A crash in between leaves the
// original in place (it is redelivered and dead-lettered again, de-duplicated by message id).
import type { JetStreamClient } from "@nats-io/jetstream";
import { headers as createHeaders, type MsgHdrs } from "@nats-io/transport-node";
import type { Delivery } from "../jetstream/delivery.ts";
import { escapeHeaderValue, Header } from "../wire/headers.ts";
import type { Subjects } from "../wire/subjects.ts";
import type { AttemptRecord } from "./attempt-log.ts";
import type { DeadReason, FailureRecord } from "./failure.ts";

export interface DeadLetter {
  queue: string;
  name: string;
  jobId: string;
  reason: DeadReason;
  failure: Omit<FailureRecord, "kind">;
  attempts: number;
  history: AttemptRecord[];
  workerId: string;
}

/** Headers that must not be copied: they would make the dead-letter publish itself fail. */
const NOT_COPIED = new Set([
  "nats-msg-id",
  "nats-expected-stream",
  "nats-expected-last-msg-id",
  "nats-expected-last-sequence",
  "nats-expected-last-subject-sequence",
]);
// Failure headers together stay under ~5.5 KB, inside the 8 KiB headroom queues keep for them.
const MAX_HISTORY_HEADER = 2048;

export async function deadLetter(
  js: JetStreamClient,
  subjects: Subjects,
  msg: Delivery,
  letter: DeadLetter,
): Promise<void> {
  const h = copyOriginalHeaders(msg);
  h.set(Header.JobId, letter.jobId);
  h.set(Header.DeadReason, letter.reason);
  h.set(Header.ErrorClass, escapeHeaderValue(letter.failure.errorClass, 200));
  h.set(Header.ErrorMessage, escapeHeaderValue(letter.failure.message, 1024));
  if (letter.failure.stack !== undefined)
    h.set(Header.ErrorStack, escapeHeaderValue(letter.failure.stack, 2048));
  h.set(Header.FailedAt, String(Date.now()));
  h.set(Header.Attempts, String(letter.attempts));
  h.set(Header.AttemptHistory, historyHeader(letter.history));
  h.set(Header.OriginalSubject, msg.subject);
  h.set(Header.OriginalSequence, String(msg.seq));
  h.set(Header.WorkerId, letter.workerId);
  await js.publish(subjects.deadLetter(letter.queue, letter.name), msg.data, {
    headers: h,
    msgID: `${letter.jobId}:dead:${msg.stream}:${msg.seq}`,
  });
  msg.term();
}

function copyOriginalHeaders(msg: Delivery): MsgHdrs {
  const h = createHeaders();
  let original: MsgHdrs | undefined;
  try {
    original = msg.headers;
  } catch {
    // A header block the client cannot parse: the dead letter keeps the payload and our headers.
    return h;
  }
  for (const [key, values] of original ?? []) {
    if (NOT_COPIED.has(key.toLowerCase())) continue;
    for (const value of values) h.append(key, value);
  }
  return h;
}

/** The newest attempts that fit in one header, as a JSON array. */
function historyHeader(history: AttemptRecord[]): string {
  let kept = history;
  let text = JSON.stringify(kept);
  while (text.length > MAX_HISTORY_HEADER && kept.length > 1) {
    kept = kept.slice(1);
    text = JSON.stringify(kept);
  }
  return escapeHeaderValue(text, MAX_HISTORY_HEADER);
}
