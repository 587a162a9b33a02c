// Errors the control plane reports through its API: a stable code, a message saying what went
// wrong, and a hint saying what to do about it (the CLI prints both).

export type ApiErrorCode =
  | "INVALID_REQUEST"
  | "UNKNOWN_ENDPOINT"
  | "UNKNOWN_QUEUE"
  | "UNKNOWN_WORKER"
  | "JOB_NOT_FOUND"
  | "DEAD_LETTER_NOT_FOUND"
  | "SCHEDULE_NOT_FOUND"
  | "LIMIT_NOT_FOUND"
  | "FILTER_REQUIRED"
  | "NOT_DECLARED"
  | "RESPONSE_TOO_LARGE"
  | "ENQUEUE_FAILED"
  | "NATS_UNREACHABLE"
  | "NO_CONTROL_PLANE"
  | "TIMEOUT"
  | "INTERNAL";

export interface ApiErrorBody {
  code: ApiErrorCode;
  message: string;
  hint?: string;
}

export class ApiError extends Error {
  constructor(
    readonly code: ApiErrorCode,
    message: string,
    readonly hint?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "ApiError";
  }

  toBody(): ApiErrorBody {
    return this.hint === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, hint: this.hint };
  }

  static fromBody(body: ApiErrorBody): ApiError {
    return new ApiError(body.code, body.message, body.hint);
  }
}

export function invalid(message: string, hint?: string): ApiError {
  return new ApiError("INVALID_REQUEST", message, hint);
}

export function unknownQueue(queue: string, known: readonly string[]): ApiError {
  return new ApiError(
    "UNKNOWN_QUEUE",
    `unknown queue "${queue}"`,
    known.length === 0
      ? "no queue is declared on this mesh yet: declare one with client.queues.declare(name)"
      : `known queues: ${known.join(", ")}`,
  );
}
