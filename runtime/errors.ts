// Every error jetmesh raises: one base class with a stable `code`, so callers can classify
// failures by code even across duplicate installs or worker threads where `instanceof` fails.

export type JetmeshErrorCode =
  | "INVALID_NAME"
  | "INVALID_OPTIONS"
  | "QUEUE_NOT_FOUND"
  | "QUEUE_FULL"
  | "PAYLOAD_TOO_LARGE"
  | "DECODE_FAILED"
  | "ENQUEUE_FAILED"
  | "UNKNOWN_JOB_NAME"
  | "JOB_TIMEOUT"
  | "JOB_CANCELLED"
  | "LEASE_LOST"
  | "SHUTDOWN"
  | "PERMANENT_FAILURE"
  | "INVALID_SCHEDULE"
  | "SCHEDULE_NOT_FOUND"
  | "SCHEDULE_EXISTS"
  | "JOB_FAILED"
  | "RESULT_UNAVAILABLE"
  | "RESULT_TIMEOUT";

export class JetmeshError extends Error {
  constructor(
    readonly code: JetmeshErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "JetmeshError";
  }
}

/** A payload or header block that cannot be turned into a job. */
export class DecodeError extends JetmeshError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("DECODE_FAILED", message, options);
    this.name = "DecodeError";
  }
}

/** A job payload over the configured size limit. */
export class PayloadTooLargeError extends JetmeshError {
  constructor(
    readonly sizeBytes: number,
    readonly limitBytes?: number,
    detail?: string,
  ) {
    super(
      "PAYLOAD_TOO_LARGE",
      `payload of ${sizeBytes} bytes is too large${limitBytes === undefined ? "" : ` (limit ${limitBytes} bytes)`}${detail === undefined ? "" : `: ${detail}`}`,
    );
    this.name = "PayloadTooLargeError";
  }
}

/** The queue's stream does not exist: declare the queue first (it is never created implicitly). */
export class QueueNotFoundError extends JetmeshError {
  constructor(readonly queue: string) {
    super("QUEUE_NOT_FOUND", `queue "${queue}" does not exist: declare it with client.queues.declare()`);
    this.name = "QueueNotFoundError";
  }
}

/** The queue reached its configured limit; the job was not stored. */
export class QueueFullError extends JetmeshError {
  constructor(
    readonly queue: string,
    detail: string,
  ) {
    super("QUEUE_FULL", `queue "${queue}" is full (${detail}); the job was not enqueued`);
    this.name = "QueueFullError";
  }
}

/** Thrown by a handler to fail a job without further retries: it goes to the dead-letter stream. */
export class PermanentJobError extends JetmeshError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("PERMANENT_FAILURE", message, options);
    this.name = "PermanentJobError";
  }
}

/** The job ended without a result: dead-lettered or cancelled. Carries the job's own error. */
export class JobFailedError extends JetmeshError {
  constructor(
    readonly jobId: string,
    /** "cancelled", or the dead-letter reason (e.g. "max-attempts", "permanent"). */
    readonly reason: string,
    /** The class name of the handler's error, e.g. "PaymentDeclinedError". */
    readonly errorClass: string,
    readonly errorMessage: string,
  ) {
    super("JOB_FAILED", `job ${jobId} failed (${reason}): ${errorClass}: ${errorMessage}`);
    this.name = "JobFailedError";
  }
}

/** The job completed, but its result could not be kept (too large, or not JSON). */
export class ResultUnavailableError extends JetmeshError {
  constructor(
    readonly jobId: string,
    detail: string,
  ) {
    super("RESULT_UNAVAILABLE", `job ${jobId} completed but its result was not stored: ${detail}`);
    this.name = "ResultUnavailableError";
  }
}

/** No final outcome was recorded for the job within the time the caller gave. */
export class ResultTimeoutError extends JetmeshError {
  constructor(
    readonly jobId: string,
    readonly timeoutMs: number,
    /** The last state seen ("waiting", "running", …), or undefined when nothing was recorded. */
    readonly lastState: string | undefined,
  ) {
    super(
      "RESULT_TIMEOUT",
      `no result for job ${jobId} within ${timeoutMs} ms (last state: ${lastState ?? "nothing recorded"}); the job may still finish: ask again with client.result()`,
    );
    this.name = "ResultTimeoutError";
  }
}
