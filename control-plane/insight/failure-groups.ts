// Failure groups: the dead letters matching a filter grouped by fingerprint (fingerprint.ts),
// most frequent first; and a group turned into the dead-letter sequences it holds, so "retry
// group" and "purge group" are the dead-letter retry and purge of exactly those letters.
import { Header } from "../../runtime/index.ts";
import type { FailureGroup, FailureGroups } from "../api/protocol.ts";
import type { CommandContext } from "../commands/context.ts";
import { headerMap, matches, subjectFilter, summarize, unescapeHeader } from "../dead-letters/dead-letter.ts";
import { readFilter } from "../dead-letters/filter.ts";
import { scanStream } from "../dead-letters/stream-scan.ts";
import { ApiError } from "../errors.ts";
import { optionalInteger, optionalString } from "../validate.ts";
import { fingerprint } from "./fingerprint.ts";

const NAMES_PER_GROUP = 10;

interface Scanned {
  groups: Map<string, FailureGroup & { seqs: number[] }>;
  total: number;
  truncated: boolean;
}

async function scanGroups(ctx: CommandContext, body: Record<string, unknown>): Promise<Scanned> {
  const filter = readFilter(body);
  const { mesh } = ctx;
  const groups = new Map<string, FailureGroup & { seqs: number[] }>();
  const stream = mesh.subjects.deadLetterStream();
  if (!(await mesh.streamExists(stream))) return { groups, total: 0, truncated: false };
  let total = 0;
  const scan = await scanStream(
    mesh,
    stream,
    { filterSubject: subjectFilter(mesh.subjects, filter), headersOnly: true, limit: ctx.scanLimit },
    (message) => {
      const letter = summarize(mesh.subjects, message);
      if (!matches(filter, letter)) return;
      total++;
      const stack = headerMap(message).get(Header.ErrorStack.toLowerCase());
      const print = fingerprint(
        letter.errorClass,
        letter.errorMessage,
        stack === undefined ? undefined : unescapeHeader(stack),
      );
      let group = groups.get(print.id);
      if (group === undefined) {
        group = {
          ...print,
          count: 0,
          firstAt: letter.failedAt,
          lastAt: letter.failedAt,
          lastMessage: letter.errorMessage,
          queues: [],
          names: [],
          seqs: [],
        };
        groups.set(print.id, group);
      }
      group.count++;
      group.seqs.push(letter.seq);
      group.firstAt = Math.min(group.firstAt, letter.failedAt);
      if (letter.failedAt >= group.lastAt) {
        group.lastAt = letter.failedAt;
        group.lastMessage = letter.errorMessage;
      }
      if (!group.queues.includes(letter.queue)) group.queues.push(letter.queue);
      if (!group.names.includes(letter.name) && group.names.length < NAMES_PER_GROUP)
        group.names.push(letter.name);
    },
  );
  return { groups, total, truncated: scan.truncated };
}

export async function failureGroups(
  ctx: CommandContext,
  body: Record<string, unknown>,
): Promise<FailureGroups> {
  const limit = optionalInteger(body, "limit", 1, 1000) ?? 100;
  const { groups, total, truncated } = await scanGroups(ctx, body);
  const sorted = [...groups.values()]
    .sort((a, b) => b.count - a.count || b.lastAt - a.lastAt)
    .map(({ seqs: _seqs, ...group }) => group);
  return { total, truncated, groups: sorted.slice(0, limit) };
}

/**
 * A retry or purge request with `group` becomes the same request for the group's dead letters
 * (by sequence, within any other filter given); without `group` it is left as it is.
 */
export async function resolveGroup(
  ctx: CommandContext,
  body: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  const id = optionalString(body, "group", 64);
  if (id === undefined) return body;
  if (body.seqs !== undefined) throw new ApiError("INVALID_REQUEST", "give a group or sequences, not both");
  const group = (await scanGroups(ctx, body)).groups.get(id);
  if (group === undefined)
    throw new ApiError(
      "DEAD_LETTER_NOT_FOUND",
      `no dead letter is in failure group ${id}${body.queue === undefined ? "" : ` of queue ${String(body.queue)}`}`,
      "list the groups with `jetmesh failures`",
    );
  return { ...body, seqs: group.seqs };
}
