// Retry dead jobs: re-publish each one's payload and original headers to its queue, keeping its
// job id and attempt history, then remove it from the dead-letter stream. The failure headers and
// Jetmesh-Attempt are dropped, so the retried job starts again at attempt 1 with a fresh
// enqueue time; Nats-Msg-Id `<jobId>:retry:<dlq seq>` makes a repeated retry of the same dead
// letter (after a crash between publish and delete) store the job only once. A keyed job (one with
// a Jetmesh-Key header) goes back to its key's partition, routed as the client routes it, so it
// again runs only while no other job of its key does (docs/keyed-jobs.md).
import { headers as createHeaders } from "@nats-io/transport-node";
import { Header, KeyedRouting } from "../../runtime/index.ts";
import type { DeadLetterRetryResult } from "../api/protocol.ts";
import { headerMap, parseDeadLetterSubject, summarize } from "../dead-letters/dead-letter.ts";
import { readBulkFilter } from "../dead-letters/filter.ts";
import { getStored, matchDeadLetters } from "../dead-letters/queries.ts";
import type { CommandContext } from "./context.ts";

/** Headers a retried job must not carry: the failure record, and what would make the publish fail. */
const DROPPED = new Set(
  [
    Header.Attempt,
    Header.DeadReason,
    Header.ErrorClass,
    Header.ErrorMessage,
    Header.ErrorStack,
    Header.FailedAt,
    Header.Attempts,
    Header.AttemptHistory,
    Header.OriginalSubject,
    Header.OriginalSequence,
    Header.WorkerId,
    Header.EnqueuedAt,
    Header.MsgId,
    "Nats-Expected-Stream",
    "Nats-Expected-Last-Msg-Id",
    "Nats-Expected-Last-Sequence",
    "Nats-Expected-Last-Subject-Sequence",
  ].map((name) => name.toLowerCase()),
);

export async function retryDeadLetters(
  ctx: CommandContext,
  body: Record<string, unknown>,
): Promise<DeadLetterRetryResult> {
  const { filter, dryRun } = readBulkFilter(body, "retrying");
  const matched = await matchDeadLetters(ctx, filter);
  const result: DeadLetterRetryResult = { matched: matched.letters.length, retried: [], failed: [], dryRun };
  if (dryRun) return result;
  const { mesh } = ctx;
  const dlq = mesh.subjects.deadLetterStream();
  const known = new Map<string, boolean>();
  const queueExists = async (queue: string): Promise<boolean> => {
    if (!known.has(queue)) known.set(queue, await mesh.streamExists(mesh.subjects.queueStream(queue)));
    return known.get(queue) === true;
  };
  const keyed = new KeyedRouting(mesh.kvm, mesh.subjects);
  const subjectOf = async (queue: string, name: string, key: string | undefined): Promise<string> => {
    if (key === undefined) return mesh.subjects.job(queue, name);
    try {
      return await keyed.subject(queue, name, key);
    } catch (error) {
      throw new Error(
        `keyed job (key ${JSON.stringify(key)}) not routed to its partition, the dead letter was kept: ${explain(error)}`,
      );
    }
  };
  for (const letter of matched.letters) {
    try {
      const message = await getStored(ctx, letter.seq);
      if (message === undefined) {
        result.failed.push({
          seq: letter.seq,
          jobId: letter.jobId,
          error: "no longer in the dead-letter stream",
        });
        continue;
      }
      const where = parseDeadLetterSubject(mesh.subjects, message.subject);
      if (where === undefined) throw new Error(`unexpected dead-letter subject ${message.subject}`);
      if (!(await queueExists(where.queue))) {
        result.failed.push({
          seq: letter.seq,
          jobId: letter.jobId,
          error: `queue "${where.queue}" has no stream: declare it again, then retry (the dead letter was kept)`,
        });
        continue;
      }
      const { jobId } = summarize(mesh.subjects, message);
      const h = createHeaders();
      for (const [key, values] of message.headers ?? []) {
        if (DROPPED.has(key.toLowerCase())) continue;
        for (const value of values) h.append(key, value);
      }
      h.set(Header.JobId, jobId);
      h.set(Header.EnqueuedAt, String(Date.now()));
      const subject = await subjectOf(
        where.queue,
        where.name,
        headerMap(message).get(Header.Key.toLowerCase()),
      );
      const ack = await mesh.js.publish(subject, message.data, {
        headers: h,
        msgID: `${jobId}:retry:${letter.seq}`,
        timeout: 5000,
      });
      await mesh.jsm.streams.deleteMessage(dlq, letter.seq, false);
      result.retried.push({
        seq: letter.seq,
        jobId,
        queue: where.queue,
        name: where.name,
        sequence: ack.seq,
      });
    } catch (error) {
      result.failed.push({ seq: letter.seq, jobId: letter.jobId, error: explain(error) });
    }
  }
  ctx.logger.info(
    { matched: result.matched, retried: result.retried.length, failed: result.failed.length, by: body.by },
    "dead letters retried",
  );
  return result;
}

function explain(error: unknown): string {
  return (error as Error).message ?? String(error);
}
