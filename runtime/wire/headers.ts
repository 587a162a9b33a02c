// Header names of the wire contract (docs/wire-format.md, "Headers"). Values never contain
// CR or LF: multi-line text (stacks) is escaped by escapeHeaderValue.

export const WIRE_VERSION = "1";

export const Header = {
  /** Set by JetStream clients; de-duplicates enqueue. Our client sets it to the job id. */
  MsgId: "Nats-Msg-Id",
  ContentType: "Content-Type",
  Version: "Jetmesh-Version",
  JobId: "Jetmesh-Job-Id",
  /** Attempt number of this message's first delivery (default 1). */
  Attempt: "Jetmesh-Attempt",
  MaxAttempts: "Jetmesh-Max-Attempts",
  TimeoutMs: "Jetmesh-Timeout-Ms",
  /** Milliseconds since the Unix epoch when the job was enqueued. */
  EnqueuedAt: "Jetmesh-Enqueued-At",
  TraceParent: "traceparent",
  TraceState: "tracestate",
  // Dead-letter headers, added to the original headers when a job is dead-lettered.
  DeadReason: "Jetmesh-Dead-Reason",
  ErrorClass: "Jetmesh-Error-Class",
  ErrorMessage: "Jetmesh-Error-Message",
  ErrorStack: "Jetmesh-Error-Stack",
  FailedAt: "Jetmesh-Failed-At",
  Attempts: "Jetmesh-Attempts",
  AttemptHistory: "Jetmesh-Attempt-History",
  OriginalSubject: "Jetmesh-Original-Subject",
  OriginalSequence: "Jetmesh-Original-Sequence",
  WorkerId: "Jetmesh-Worker-Id",
} as const;

export const ContentType = {
  Json: "application/json",
  MessagePack: "application/msgpack",
} as const;

/** Header values must stay on one line; escapes CR/LF as `\r` `\n` and caps the length. */
export function escapeHeaderValue(value: string, maxLength = 4096): string {
  const oneLine = value.replace(/\\/g, "\\\\").replace(/\r/g, "\\r").replace(/\n/g, "\\n");
  return oneLine.length > maxLength ? `${oneLine.slice(0, maxLength - 3)}...` : oneLine;
}

/** Reverses escapeHeaderValue. */
export function unescapeHeaderValue(value: string): string {
  return value.replace(/\\(\\|r|n)/g, (_, c: string) => (c === "n" ? "\n" : c === "r" ? "\r" : "\\"));
}
