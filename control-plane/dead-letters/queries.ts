// Finding dead letters: list by filter, read one in full, and collect the matches of a filter
// for retry and purge.
import type { DeadLetterDetail, DeadLetterFilter, DeadLetterSummary } from "../api/protocol.ts";
import type { CommandContext } from "../commands/context.ts";
import { ApiError, invalid } from "../errors.ts";
import { optionalInteger } from "../validate.ts";
import { detail, matches, subjectFilter, summarize } from "./dead-letter.ts";
import { readFilter } from "./filter.ts";
import { type StoredMessage, scanStream } from "./stream-scan.ts";

export interface Matched {
  letters: DeadLetterSummary[];
  /** More dead letters than the scan limit were in range: some were not looked at. */
  truncated: boolean;
}

/** Dead letters matching the filter, oldest first, reading at most the scan limit. */
export async function matchDeadLetters(ctx: CommandContext, filter: DeadLetterFilter): Promise<Matched> {
  const { mesh } = ctx;
  const stream = mesh.subjects.deadLetterStream();
  if (!(await mesh.streamExists(stream))) return { letters: [], truncated: false };
  if (filter.seqs !== undefined) {
    const letters: DeadLetterSummary[] = [];
    for (const seq of filter.seqs) {
      const message = await getStored(ctx, seq);
      if (message === undefined) continue;
      const summary = summarize(mesh.subjects, message);
      if (matches(filter, summary)) letters.push(summary);
    }
    return { letters, truncated: false };
  }
  const letters: DeadLetterSummary[] = [];
  const scan = await scanStream(
    mesh,
    stream,
    { filterSubject: subjectFilter(mesh.subjects, filter), headersOnly: true, limit: ctx.scanLimit },
    (message) => {
      const summary = summarize(mesh.subjects, message);
      if (matches(filter, summary)) letters.push(summary);
    },
  );
  return { letters, truncated: scan.truncated };
}

export async function listDeadLetters(
  ctx: CommandContext,
  body: Record<string, unknown>,
): Promise<{ total: number; deadLetters: DeadLetterSummary[]; truncated: boolean }> {
  const filter = readFilter(body);
  const limit = optionalInteger(body, "limit", 1, 1000) ?? 100;
  const matched = await matchDeadLetters(ctx, filter);
  return {
    total: matched.letters.length,
    deadLetters: matched.letters.slice(0, limit),
    truncated: matched.truncated || matched.letters.length > limit,
  };
}

export async function getDeadLetter(
  ctx: CommandContext,
  body: Record<string, unknown>,
): Promise<DeadLetterDetail> {
  const seq = optionalInteger(body, "seq", 1, Number.MAX_SAFE_INTEGER);
  const jobId = body.jobId;
  if (seq === undefined && (typeof jobId !== "string" || jobId === ""))
    throw invalid("give the dead letter's seq or the jobId", "list them with `jetmesh dlq list`");
  let target = seq;
  if (target === undefined) {
    const matched = await matchDeadLetters(ctx, { jobId: jobId as string });
    target = matched.letters.at(-1)?.seq;
  }
  const message = target === undefined ? undefined : await getStored(ctx, target);
  if (message === undefined)
    throw new ApiError(
      "DEAD_LETTER_NOT_FOUND",
      seq === undefined ? `job "${String(jobId)}" has no dead letter` : `no dead letter with seq ${seq}`,
      "list dead letters with `jetmesh dlq list`",
    );
  return detail(ctx.mesh.subjects, message);
}

/** One dead letter by sequence, with its payload; undefined when it is not (or no longer) there. */
export async function getStored(ctx: CommandContext, seq: number): Promise<StoredMessage | undefined> {
  const stored = await ctx.mesh.jsm.streams
    .getMessage(ctx.mesh.subjects.deadLetterStream(), { seq })
    .catch(() => null);
  if (stored === null) return undefined;
  return {
    seq: stored.seq,
    subject: stored.subject,
    headers: stored.header,
    data: stored.data,
    storedAt: stored.time.getTime(),
  };
}
