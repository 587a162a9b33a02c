// Walks the jobs waiting in a queue stream in order with direct message requests (`next_by_subj`,
// which nats-server 2.9 has): a WorkQueue stream allows no consumer besides the workers' own, and
// acknowledged jobs leave gaps that a walk by sequence would trip over. Bounded by a limit. A
// queue with key partitions holds its keyed jobs in the same stream: the walk takes them in, in
// stream order among the unkeyed ones.
import type { MsgRequest } from "@nats-io/jetstream";
import { Header, keyedFilter, keyedJobNameReader } from "../../runtime/index.ts";
import type { WaitingJob } from "../api/protocol.ts";
import { headerMap } from "../dead-letters/dead-letter.ts";
import type { StoredMessage } from "../dead-letters/stream-scan.ts";
import { isNotFound, type Mesh } from "../mesh.ts";

export async function walkQueue(
  mesh: Mesh,
  queue: string,
  limit: number,
  visit: (job: WaitingJob) => boolean | undefined,
): Promise<{ walked: number; truncated: boolean; backlog: number }> {
  const stream = mesh.subjects.queueStream(queue);
  let info: Awaited<ReturnType<typeof mesh.jsm.streams.info>>;
  try {
    info = await mesh.jsm.streams.info(stream);
  } catch (error) {
    if (isNotFound(error)) return { walked: 0, truncated: false, backlog: 0 };
    throw error;
  }
  // Every subject of a queue's stream is one of its jobs' subjects.
  const keyed = (info.config.subjects ?? []).includes(keyedFilter(mesh.subjects, queue));
  const filter = keyed ? ">" : mesh.subjects.queueFilter(queue);
  const keyedName = keyedJobNameReader(mesh.subjects, queue);
  let seq = info.state.first_seq;
  let walked = 0;
  while (walked < limit) {
    const request = { seq, next_by_subj: filter } as unknown as MsgRequest;
    const msg = await mesh.jsm.streams.getMessage(stream, request);
    if (msg === null) return { walked, truncated: false, backlog: info.state.messages };
    walked++;
    const stop = visit(
      waitingJob(mesh, queue, keyedName, {
        seq: msg.seq,
        subject: msg.subject,
        headers: msg.header,
        data: msg.data,
        storedAt: msg.time.getTime(),
      }),
    );
    if (stop) return { walked, truncated: false, backlog: info.state.messages };
    seq = msg.seq + 1;
  }
  return { walked, truncated: walked < info.state.messages, backlog: info.state.messages };
}

function waitingJob(
  mesh: Mesh,
  queue: string,
  keyedName: (subject: string) => string,
  message: StoredMessage,
): WaitingJob {
  const h = headerMap(message);
  const key = h.get(Header.Key.toLowerCase());
  const enqueuedAt = Number(h.get(Header.EnqueuedAt.toLowerCase()));
  const attempt = Number(h.get(Header.Attempt.toLowerCase()) ?? 1);
  return {
    jobId:
      h.get(Header.JobId.toLowerCase()) ?? h.get(Header.MsgId.toLowerCase()) ?? `${queue}-${message.seq}`,
    queue,
    name: mesh.subjects.parseJob(message.subject)?.name ?? keyedName(message.subject),
    sequence: message.seq,
    enqueuedAt: Number.isFinite(enqueuedAt) && enqueuedAt > 0 ? enqueuedAt : null,
    storedAt: message.storedAt,
    attempt: Number.isSafeInteger(attempt) && attempt > 0 ? attempt : 1,
    ...(key === undefined ? {} : { key }),
  };
}
