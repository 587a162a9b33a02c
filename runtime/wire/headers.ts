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
  /** Milliseconds since the Unix epoch before which the job must not start (a delayed job). */
  DueAt: "Jetmesh-Due-At",
  /** On a job in the delay store: the queue subject it goes to when it is due. */
  Subject: "Jetmesh-Subject",
  /** "1": the worker records the job's state, progress and result (docs/results-and-uniqueness.md). */
  Result: "Jetmesh-Result",
  /** The hash of the job's uniqueness key: the worker releases the key when the job ends. */
  UniqueKey: "Jetmesh-Unique-Key",
  /** A keyed job's key: jobs with the same key run one at a time, in order (docs/keyed-jobs.md). */
  Key: "Jetmesh-Key",
  /** The recurring schedule that fired the job. */
  ScheduleId: "Jetmesh-Schedule-Id",
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

/**
 * Header values must stay on one line: escapes CR/LF as `\r` `\n` and caps the value at
 * `maxBytes` of UTF-8, so dead-letter headers fit the headroom the queue keeps for them.
 */
export function escapeHeaderValue(value: string, maxBytes = 4096): string {
  const oneLine = value.replace(/\\/g, "\\\\").replace(/\r/g, "\\r").replace(/\n/g, "\\n");
  if (Buffer.byteLength(oneLine) <= maxBytes) return oneLine;
  // A UTF-8 character takes at most 4 bytes: shorten by characters until the bytes fit.
  let cut = oneLine.slice(0, maxBytes - 3);
  while (Buffer.byteLength(cut) > maxBytes - 3) {
    cut = cut.slice(0, cut.length - Math.ceil((Buffer.byteLength(cut) - (maxBytes - 3)) / 4));
  }
  return `${cut}...`;
}

/** Reverses escapeHeaderValue. */
export function unescapeHeaderValue(value: string): string {
  return value.replace(/\\(\\|r|n)/g, (_, c: string) => (c === "n" ? "\n" : c === "r" ? "\r" : "\\"));
}
