// The record a worker keeps for a job enqueued with `result: true`: its state, last progress, and
// its result or final error. JSON, one per job in the results bucket, overwritten as the job moves.
import { JetmeshError } from "../errors.ts";

export type JobStateName = "waiting" | "running" | "completed" | "failed" | "cancelled";

export interface JobState {
  jobId: string;
  queue: string;
  name: string;
  /** waiting (also between retries), running, or a final one: completed, failed, cancelled. */
  state: JobStateName;
  /** The attempt that ran or will run next (absent before the first start). */
  attempt?: number;
  /** The last value given to `context.progress()` in the latest attempt. */
  progress?: unknown;
  /** completed: the handler's return value, when there was one and it could be kept. */
  result?: unknown;
  /** completed: why the return value was not kept (too large, not JSON). */
  resultError?: string;
  /** failed or cancelled: the final error; while waiting for a retry: the last attempt's error. */
  error?: { class: string; message: string; reason: string };
  /** When this record was written, ms since epoch. */
  at: number;
}

/** Largest JSON encoding of a result that is kept; larger results complete with `resultError`. */
export const MAX_RESULT_BYTES = 64 * 1024;

const FINAL = new Set<JobStateName>(["completed", "failed", "cancelled"]);

export function isFinal(state: JobState): boolean {
  return FINAL.has(state.state);
}

/**
 * Encodes a record; a completed record's result is measured on its own, and one that is too large
 * or not JSON is replaced by a `resultError` that says so (the job still counts as completed).
 */
export function encodeJobState(state: JobState): string {
  if (state.result === undefined) return JSON.stringify(state);
  const { result, ...rest } = state;
  let encoded: string | undefined;
  try {
    encoded = JSON.stringify(result);
  } catch (error) {
    return JSON.stringify({ ...rest, resultError: `not JSON-serializable: ${(error as Error).message}` });
  }
  if (encoded === undefined) return JSON.stringify(rest);
  const bytes = Buffer.byteLength(encoded);
  if (bytes > MAX_RESULT_BYTES) {
    return JSON.stringify({
      ...rest,
      resultError: `result of ${bytes} bytes (JSON) exceeds the ${MAX_RESULT_BYTES}-byte limit`,
    });
  }
  // The result was encoded once to be measured: splice it in rather than encode it again.
  return `${JSON.stringify(rest).slice(0, -1)},"result":${encoded}}`;
}

export function decodeJobState(text: string, key: string): JobState {
  try {
    return JSON.parse(text) as JobState;
  } catch (error) {
    throw new JetmeshError("DECODE_FAILED", `job state ${key} is not JSON: ${(error as Error).message}`);
  }
}
