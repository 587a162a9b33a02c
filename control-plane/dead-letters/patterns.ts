// Failure patterns of dead letters: the matches of a filter grouped by queue and error class,
// most frequent first, so an operator sees at once which failure dominates where.
import type { DeadLetterPattern, DeadLetterPatterns } from "../api/protocol.ts";
import type { CommandContext } from "../commands/context.ts";
import { optionalInteger } from "../validate.ts";
import { readFilter } from "./filter.ts";
import { matchDeadLetters } from "./queries.ts";

const NAMES_PER_PATTERN = 5;

export async function deadLetterPatterns(
  ctx: CommandContext,
  body: Record<string, unknown>,
): Promise<DeadLetterPatterns> {
  const limit = optionalInteger(body, "limit", 1, 1000) ?? 100;
  const matched = await matchDeadLetters(ctx, readFilter(body));
  const groups = new Map<string, DeadLetterPattern>();
  for (const letter of matched.letters) {
    const key = `${letter.queue}\u0000${letter.errorClass}`;
    const group = groups.get(key);
    if (group === undefined) {
      groups.set(key, {
        queue: letter.queue,
        errorClass: letter.errorClass,
        count: 1,
        firstAt: letter.failedAt,
        lastAt: letter.failedAt,
        lastMessage: letter.errorMessage,
        names: [letter.name],
      });
      continue;
    }
    group.count++;
    group.firstAt = Math.min(group.firstAt, letter.failedAt);
    if (letter.failedAt >= group.lastAt) {
      group.lastAt = letter.failedAt;
      group.lastMessage = letter.errorMessage;
    }
    if (!group.names.includes(letter.name) && group.names.length < NAMES_PER_PATTERN)
      group.names.push(letter.name);
  }
  const patterns = [...groups.values()].sort((a, b) => b.count - a.count || b.lastAt - a.lastAt);
  return { total: matched.letters.length, truncated: matched.truncated, patterns: patterns.slice(0, limit) };
}
