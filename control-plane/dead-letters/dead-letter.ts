// Reads a dead letter (the original job plus failure headers, docs/wire-format.md) into the
// summaries and details the API returns, and decides whether it matches a filter.
import { decodePayload, Header, type Subjects } from "../../runtime/index.ts";
import type { AttemptView, DeadLetterDetail, DeadLetterFilter, DeadLetterSummary } from "../api/protocol.ts";
import type { StoredMessage } from "./stream-scan.ts";

/** Header values by lower-cased name (foreign producers do not all keep the canonical case). */
export function headerMap(message: StoredMessage): Map<string, string> {
  const map = new Map<string, string>();
  try {
    for (const [key, values] of message.headers ?? []) {
      const first = values[0];
      if (first !== undefined) map.set(key.toLowerCase(), first);
    }
  } catch {
    // an unparsable header block reads as no headers
  }
  return map;
}

function get(map: Map<string, string>, name: string): string | undefined {
  return map.get(name.toLowerCase());
}

/** Reverses the runtime's header escaping of CR, LF and backslash. */
export function unescapeHeader(value: string): string {
  return value.replace(/\\(\\|r|n)/g, (_, c: string) => (c === "n" ? "\n" : c === "r" ? "\r" : "\\"));
}

/** Queue and job name from `<prefix>.dlq.<queue>.<name…>`. */
export function parseDeadLetterSubject(
  subjects: Subjects,
  subject: string,
): { queue: string; name: string } | undefined {
  const prefix = `${subjects.prefix}.dlq.`;
  if (!subject.startsWith(prefix)) return undefined;
  const rest = subject.slice(prefix.length);
  const dot = rest.indexOf(".");
  if (dot <= 0) return undefined;
  return { queue: rest.slice(0, dot), name: rest.slice(dot + 1) };
}

function integer(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d+$/.test(value)) return undefined;
  return Number(value);
}

export function summarize(subjects: Subjects, message: StoredMessage): DeadLetterSummary {
  const h = headerMap(message);
  const where = parseDeadLetterSubject(subjects, message.subject) ?? { queue: "", name: "" };
  const summary: DeadLetterSummary = {
    seq: message.seq,
    queue: where.queue,
    name: where.name,
    jobId: get(h, Header.JobId) ?? get(h, Header.MsgId) ?? `dlq-${message.seq}`,
    reason: get(h, Header.DeadReason) ?? "unknown",
    errorClass: unescapeHeader(get(h, Header.ErrorClass) ?? "unknown"),
    errorMessage: unescapeHeader(get(h, Header.ErrorMessage) ?? ""),
    failedAt: integer(get(h, Header.FailedAt)) ?? message.storedAt,
    attempts: integer(get(h, Header.Attempts)) ?? 0,
  };
  const workerId = get(h, Header.WorkerId);
  if (workerId !== undefined) summary.workerId = workerId;
  return summary;
}

export function detail(subjects: Subjects, message: StoredMessage): DeadLetterDetail {
  const h = headerMap(message);
  const headers: Record<string, string> = {};
  try {
    for (const [key, values] of message.headers ?? []) headers[key] = values.join(", ");
  } catch {
    // unparsable headers: shown as none
  }
  const contentType = get(h, Header.ContentType);
  const result: DeadLetterDetail = {
    ...summarize(subjects, message),
    history: parseHistory(get(h, Header.AttemptHistory)),
    headers,
    payloadBytes: message.data.length,
  };
  const stack = get(h, Header.ErrorStack);
  if (stack !== undefined) result.stack = unescapeHeader(stack);
  const originalSubject = get(h, Header.OriginalSubject);
  if (originalSubject !== undefined) result.originalSubject = originalSubject;
  const originalSequence = integer(get(h, Header.OriginalSequence));
  if (originalSequence !== undefined) result.originalSequence = originalSequence;
  if (contentType !== undefined) result.contentType = contentType;
  try {
    result.payload = decodePayload(message.data, contentType);
  } catch {
    result.payloadBase64 = Buffer.from(message.data).toString("base64");
  }
  return result;
}

function parseHistory(value: string | undefined): AttemptView[] {
  if (value === undefined) return [];
  try {
    const parsed = JSON.parse(unescapeHeader(value)) as unknown;
    return Array.isArray(parsed) ? (parsed as AttemptView[]) : [];
  } catch {
    return [];
  }
}

/** True when the filter names nothing beyond queue and job name (a subject filter suffices). */
export function isSubjectOnly(filter: DeadLetterFilter): boolean {
  return (
    filter.errorClass === undefined &&
    filter.reason === undefined &&
    filter.jobId === undefined &&
    filter.since === undefined &&
    filter.until === undefined &&
    filter.seqs === undefined
  );
}

export function isEmptyFilter(filter: DeadLetterFilter): boolean {
  return isSubjectOnly(filter) && filter.queue === undefined && filter.name === undefined;
}

/** The narrowest subject filter of the dead-letter stream for a filter. */
export function subjectFilter(subjects: Subjects, filter: DeadLetterFilter): string {
  if (filter.queue === undefined) return subjects.deadLetterFilter();
  if (filter.name === undefined) return subjects.deadLetterFilter(filter.queue);
  return subjects.deadLetter(filter.queue, filter.name);
}

export function matches(filter: DeadLetterFilter, letter: DeadLetterSummary): boolean {
  if (filter.queue !== undefined && letter.queue !== filter.queue) return false;
  if (filter.name !== undefined && letter.name !== filter.name) return false;
  if (filter.errorClass !== undefined && letter.errorClass !== filter.errorClass) return false;
  if (filter.reason !== undefined && letter.reason !== filter.reason) return false;
  if (filter.jobId !== undefined && letter.jobId !== filter.jobId) return false;
  if (filter.since !== undefined && letter.failedAt < filter.since) return false;
  if (filter.until !== undefined && letter.failedAt >= filter.until) return false;
  if (filter.seqs !== undefined && !filter.seqs.includes(letter.seq)) return false;
  return true;
}
