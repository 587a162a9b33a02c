// Purge dead letters by the same filters as retry. A filter of queue and job name only is one
// stream purge by subject; anything finer deletes the matching messages one by one.
import type { DeadLetterPurgeResult } from "../api/protocol.ts";
import { isSubjectOnly, subjectFilter } from "../dead-letters/dead-letter.ts";
import { readBulkFilter } from "../dead-letters/filter.ts";
import { matchDeadLetters } from "../dead-letters/queries.ts";
import type { CommandContext } from "./context.ts";

export async function purgeDeadLetters(
  ctx: CommandContext,
  body: Record<string, unknown>,
): Promise<DeadLetterPurgeResult> {
  const { filter, dryRun } = readBulkFilter(body, "purging");
  const { mesh } = ctx;
  const dlq = mesh.subjects.deadLetterStream();
  if (!(await mesh.streamExists(dlq))) return { matched: 0, purged: 0, dryRun };
  if (isSubjectOnly(filter)) {
    const subject = subjectFilter(mesh.subjects, filter);
    const info = await mesh.jsm.streams.info(dlq, { subjects_filter: subject });
    const matched = Object.values(info.state.subjects ?? {}).reduce((a, b) => a + b, 0);
    if (dryRun) return { matched, purged: 0, dryRun };
    const response = await mesh.jsm.streams.purge(dlq, { filter: subject });
    ctx.logger.info({ filter: subject, purged: response.purged, by: body.by }, "dead letters purged");
    return { matched, purged: response.purged, dryRun };
  }
  const matched = await matchDeadLetters(ctx, filter);
  if (dryRun) return { matched: matched.letters.length, purged: 0, dryRun };
  let purged = 0;
  for (const letter of matched.letters) {
    if (await mesh.jsm.streams.deleteMessage(dlq, letter.seq, false).catch(() => false)) purged++;
  }
  ctx.logger.info({ matched: matched.letters.length, purged, by: body.by }, "dead letters purged");
  return { matched: matched.letters.length, purged, dryRun };
}
