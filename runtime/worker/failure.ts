// Classifies how an attempt ended, so logs, events, metrics and dead-letter headers all use the
// same closed set of words.
import { JetmeshError } from "../errors.ts";
import { escapeHeaderValue } from "../wire/headers.ts";

/** Why an attempt did not complete. */
export type FailureKind = "handler" | "timeout" | "cancelled" | "lease-lost" | "shutdown";

/** Why a job was dead-lettered (the Jetmesh-Dead-Reason header). */
export type DeadReason =
  | "max-attempts"
  | "permanent"
  | "decode-failed"
  | "unknown-job-name"
  | "payload-too-large"
  | "attempts-exhausted";

export interface FailureRecord {
  kind: FailureKind;
  /** The error's class name, e.g. "TypeError" or "PaymentDeclinedError". */
  errorClass: string;
  message: string;
  stack: string | undefined;
}

/** Reasons an abort signal carries; the handler sees them as `signal.reason`. */
export class AbortReason extends JetmeshError {
  constructor(
    readonly kind: Exclude<FailureKind, "handler">,
    message: string,
  ) {
    super(
      kind === "timeout"
        ? "JOB_TIMEOUT"
        : kind === "cancelled"
          ? "JOB_CANCELLED"
          : kind === "lease-lost"
            ? "LEASE_LOST"
            : "SHUTDOWN",
      message,
    );
    this.name = kind === "timeout" ? "JobTimeoutError" : "JobAbortedError";
  }
}

export function describeFailure(error: unknown, kind: FailureKind = "handler"): FailureRecord {
  if (error instanceof Error) {
    return {
      kind,
      errorClass: error.name || error.constructor.name,
      message: error.message,
      stack: error.stack,
    };
  }
  return { kind, errorClass: typeof error, message: String(error), stack: undefined };
}

/** A short, one-line summary of a failure for headers and history. */
export function oneLine(text: string, maxLength = 500): string {
  return escapeHeaderValue(text, maxLength);
}
