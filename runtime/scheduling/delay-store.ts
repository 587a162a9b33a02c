// The delay store: one Limits stream holding every job that is not due yet (delayed enqueues
// and long retry waits), filed by due second. Jobs wait here, outside any queue consumer, so a
// job due in six hours holds no worker and no ack-pending slot; the scheduler moves each one to
// its queue when it is due (docs/scheduling.md).
import type { JetStreamClient, PubAck } from "@nats-io/jetstream";
import type { MsgHdrs } from "@nats-io/transport-node";
import { Header } from "../wire/headers.ts";
import type { Subjects } from "../wire/subjects.ts";

export interface DelayedJob {
  queue: string;
  name: string;
  dueAt: number;
  data: Uint8Array;
  /** The job's headers; the due time is set here. */
  headers: MsgHdrs;
  /** De-duplicates the store write, and later the queue write (docs/scheduling.md). */
  msgId: string;
  timeoutMs?: number;
}

/** Files a job under its due time, naming the queue subject it goes to. */
export function storeDelayed(js: JetStreamClient, subjects: Subjects, job: DelayedJob): Promise<PubAck> {
  job.headers.set(Header.DueAt, String(job.dueAt));
  job.headers.set(Header.Subject, subjects.job(job.queue, job.name));
  return js.publish(subjects.delayed(job.dueAt), job.data, {
    headers: job.headers,
    msgID: job.msgId,
    ...(job.timeoutMs === undefined ? {} : { timeout: job.timeoutMs }),
  });
}
