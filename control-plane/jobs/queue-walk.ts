// Walks the jobs waiting in a queue stream in order with direct message requests (`next_by_subj`,
// which nats-server 2.9 has): a WorkQueue stream allows no consumer besides the workers' own, and
// acknowledged jobs leave gaps that a walk by sequence would trip over. Bounded by a limit.
import type { MsgRequest } from "@nats-io/jetstream";
import { Header } from "../../runtime/index.ts";
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
  const filter = mesh.subjects.queueFilter(queue);
  let seq = info.state.first_seq;
  let walked = 0;
  while (walked < limit) {
    const request = { seq, next_by_subj: filter } as unknown as MsgRequest;
    const msg = await mesh.jsm.streams.getMessage(stream, request);
    if (msg === null) return { walked, truncated: false, backlog: info.state.messages };
    walked++;
    const stop = visit(
      waitingJob(mesh, queue, {
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

function waitingJob(mesh: Mesh, queue: string, message: StoredMessage): WaitingJob {
  const h = headerMap(message);
  const enqueuedAt = Number(h.get(Header.EnqueuedAt.toLowerCase()));
  const attempt = Number(h.get(Header.Attempt.toLowerCase()) ?? 1);
  return {
    jobId:
      h.get(Header.JobId.toLowerCase()) ?? h.get(Header.MsgId.toLowerCase()) ?? `${queue}-${message.seq}`,
    queue,
    name: mesh.subjects.parseJob(message.subject)?.name ?? "",
    sequence: message.seq,
    enqueuedAt: Number.isFinite(enqueuedAt) && enqueuedAt > 0 ? enqueuedAt : null,
    storedAt: message.storedAt,
    attempt: Number.isSafeInteger(attempt) && attempt > 0 ? attempt : 1,
  };
}
