// Reads a dead-letter filter from a request: queue, job name, error class, dead reason, job id,
// time range and sequences, each checked so a typo fails loudly instead of matching nothing.
import type { DeadLetterFilter } from "../api/protocol.ts";
import { ApiError, invalid } from "../errors.ts";
import { optionalBoolean, optionalString } from "../validate.ts";
import { isEmptyFilter } from "./dead-letter.ts";

const TOKEN = /^[A-Za-z0-9_-]+$/;
const JOB_NAME = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

export function readFilter(body: Record<string, unknown>): DeadLetterFilter {
  const filter: DeadLetterFilter = {};
  const queue = optionalString(body, "queue", 64);
  if (queue !== undefined) {
    if (!TOKEN.test(queue)) throw invalid(`queue "${queue}" is not a valid queue name`);
    filter.queue = queue;
  }
  const name = optionalString(body, "name");
  if (name !== undefined) {
    if (!JOB_NAME.test(name)) throw invalid(`name "${name}" is not a valid job name`);
    if (queue === undefined) throw invalid("a job name filter needs the queue too", "add --queue <queue>");
    filter.name = name;
  }
  for (const field of ["errorClass", "reason", "jobId"] as const) {
    const value = optionalString(body, field, 1024);
    if (value !== undefined) filter[field] = value;
  }
  for (const field of ["since", "until"] as const) {
    const value = body[field];
    if (value === undefined || value === null) continue;
    if (typeof value !== "number" || !Number.isFinite(value) || value < 0)
      throw invalid(`${field} must be a time in ms since the epoch`);
    filter[field] = value;
  }
  if (body.seqs !== undefined && body.seqs !== null) {
    const seqs = body.seqs;
    if (!Array.isArray(seqs) || seqs.length === 0 || !seqs.every((s) => Number.isSafeInteger(s) && s > 0))
      throw invalid("seqs must be a non-empty array of positive integers");
    filter.seqs = seqs as number[];
  }
  return filter;
}

/**
 * The filter of a retry or purge, and whether it is a dry run. An empty filter would act on every
 * dead letter, so it takes an explicit `all`.
 */
export function readBulkFilter(
  body: Record<string, unknown>,
  doing: "retrying" | "purging",
): { filter: DeadLetterFilter; dryRun: boolean } {
  const filter = readFilter(body);
  if (isEmptyFilter(filter) && !optionalBoolean(body, "all"))
    throw new ApiError(
      "FILTER_REQUIRED",
      `${doing} needs a filter (seq, job id, queue, name, error class, reason, time range)`,
      `pass --all to ${doing === "retrying" ? "retry" : "purge"} every dead letter`,
    );
  return { filter, dryRun: optionalBoolean(body, "dryRun") };
}
