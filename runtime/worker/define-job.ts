// Job definitions: a name, a handler and per-job defaults, declared once next to the handler.
import type { Logger } from "pino";
import { JetmeshError } from "../errors.ts";
import { assertJobName } from "../wire/names.ts";
import type { Backoff } from "./retry-policy.ts";

/** Everything a handler gets besides its payload. */
export interface JobContext {
  readonly id: string;
  readonly queue: string;
  readonly name: string;
  /** 1-based number of this attempt. */
  readonly attempt: number;
  readonly maxAttempts: number;
  /** Aborted on timeout, cancellation, lease loss or shutdown; `signal.reason` says which. */
  readonly signal: AbortSignal;
  /** A pino logger bound to this job (job id, queue, name, attempt, worker id). */
  readonly logger: Logger;
  /** Reports progress (a number 0-100 or a small JSON value) to live listeners. */
  progress(value: unknown): void;
}

export interface JobDefinition<Payload = unknown, Result = unknown> {
  /** The job name, e.g. "email.send"; the part of the subject after the queue. */
  readonly name: string;
  run(payload: Payload, context: JobContext): Promise<Result> | Result;
  /** Attempts before dead-lettering; at most the queue's maxAttempts. */
  readonly maxAttempts?: number;
  /** Time one attempt may take before its signal aborts and it counts as failed. @default 300000 */
  readonly timeoutMs?: number;
  readonly backoff?: Backoff;
}

export const DEFAULT_JOB_TIMEOUT_MS = 5 * 60_000;

/** Declares a job; the generic parameters type the payload the handler receives. */
export function defineJob<Payload = unknown, Result = unknown>(
  definition: JobDefinition<Payload, Result>,
): JobDefinition<Payload, Result> {
  assertJobDefinition(definition);
  return Object.freeze({ ...definition });
}

/** Rejects a definition that could never run a job as intended, naming the field. */
export function assertJobDefinition(definition: JobDefinition<any, any>): void {
  assertJobName(definition.name);
  if (typeof definition.run !== "function") {
    throw new JetmeshError("INVALID_OPTIONS", `job "${definition.name}": run must be a function`);
  }
  for (const key of ["maxAttempts", "timeoutMs"] as const) {
    const value = definition[key];
    if (value !== undefined && (!Number.isSafeInteger(value) || value < 1)) {
      throw new JetmeshError(
        "INVALID_OPTIONS",
        `job "${definition.name}": ${key} must be a positive integer, got ${value}`,
      );
    }
  }
}
