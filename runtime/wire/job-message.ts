// The job message of the wire contract: building one for enqueue, and reading one back from a
// delivered JetStream message into a typed envelope or a DecodeError with the reason.
import type { MsgHdrs } from "@nats-io/transport-node";
import { headers as createHeaders } from "@nats-io/transport-node";
import { DecodeError, PayloadTooLargeError } from "../errors.ts";
import { contentTypeOf, decodePayload, type Encoding, encodePayload } from "./codec.ts";
import { Header, WIRE_VERSION } from "./headers.ts";

/** Per-job options carried in headers. */
export interface JobMessageOptions {
  jobId: string;
  encoding: Encoding;
  /** Attempt number of the first delivery of this message. @default 1 */
  attempt?: number;
  maxAttempts?: number;
  timeoutMs?: number;
  enqueuedAt?: number;
  /** When the job is due (ms since epoch); absent for a job that may run at once. */
  dueAt?: number;
  /** A keyed job's key (docs/keyed-jobs.md). */
  key?: string;
  /** Extra headers, e.g. W3C trace context. */
  extraHeaders?: Record<string, string>;
}

export function buildJobHeaders(options: JobMessageOptions): MsgHdrs {
  // append, not set: the block is fresh, and set() scans for an existing name first.
  const h = createHeaders();
  h.append(Header.Version, WIRE_VERSION);
  h.append(Header.JobId, options.jobId);
  h.append(Header.ContentType, contentTypeOf(options.encoding));
  h.append(Header.EnqueuedAt, String(options.enqueuedAt ?? Date.now()));
  if (options.dueAt !== undefined) h.append(Header.DueAt, String(options.dueAt));
  if (options.attempt !== undefined && options.attempt !== 1)
    h.append(Header.Attempt, String(options.attempt));
  if (options.maxAttempts !== undefined) h.append(Header.MaxAttempts, String(options.maxAttempts));
  if (options.timeoutMs !== undefined) h.append(Header.TimeoutMs, String(options.timeoutMs));
  if (options.key !== undefined) h.append(Header.Key, options.key);
  if (options.extraHeaders !== undefined) {
    // Extra headers may repeat a name given above (the caller's choice wins, as with set()).
    for (const [key, value] of Object.entries(options.extraHeaders)) h.set(key, value);
  }
  return h;
}

export function buildJobMessage(
  payload: unknown,
  options: JobMessageOptions,
): { data: Uint8Array; headers: MsgHdrs } {
  return { data: encodePayload(payload, options.encoding), headers: buildJobHeaders(options) };
}

/** What a worker knows about one delivery of a job, before the payload is decoded. */
export interface JobEnvelope {
  id: string;
  queue: string;
  name: string;
  /** 1-based attempt number of this delivery. */
  attempt: number;
  maxAttempts: number | undefined;
  timeoutMs: number | undefined;
  /** When the job was enqueued (ms since epoch), when the producer said so. */
  enqueuedAt: number | undefined;
  /** When the job was due (ms since epoch), for a delayed job; its queue wait counts from here. */
  dueAt: number | undefined;
  contentType: string | undefined;
  traceParent: string | undefined;
  traceState: string | undefined;
  /** The producer asked for the job's state and result to be recorded (Jetmesh-Result: 1). */
  resultWanted?: boolean;
  /** The hash of the job's uniqueness key, released when the job ends (Jetmesh-Unique-Key). */
  uniqueKey?: string | undefined;
}

/**
 * Header values by lower-cased name, read in one pass: header names are matched without regard
 * to case, since clients in other languages do not all keep the canonical spelling.
 */
export type HeaderValues = ReadonlyMap<string, string>;

export function headerValues(h: MsgHdrs | undefined): HeaderValues {
  const values = new Map<string, string>();
  if (h === undefined) return values;
  for (const [key, list] of h) {
    const first = list[0];
    if (first !== undefined) values.set(key.toLowerCase(), first);
  }
  return values;
}

const headerDecoder = new TextDecoder();
const NO_HEADERS: HeaderValues = new Map();

/**
 * Reads a header block as it arrives on the wire (`NATS/1.0…\r\nName: value\r\n…\r\n\r\n`)
 * straight into header values, by the JavaScript client's rules: the same block is refused (a name
 * outside printable ASCII or with a colon, a lone CR or LF in a value) and lines without a colon
 * are skipped. It replaces the client's MsgHdrs on the hot path, which builds a canonical key, a
 * key list and a regex test per header before we read a single one.
 */
export function parseHeaderBlock(block: Uint8Array): HeaderValues {
  if (block.length === 0) return NO_HEADERS;
  const text = headerDecoder.decode(block);
  const values = new Map<string, string>();
  // The first line is the version and an optional status; headers follow.
  let start = text.indexOf("\r\n");
  while (start !== -1) {
    start += 2;
    let end = text.indexOf("\r\n", start);
    if (end === -1) end = text.length;
    const colon = text.indexOf(":", start);
    if (colon !== -1 && colon < end) {
      for (let i = start; i < colon; i++) {
        const c = text.charCodeAt(i);
        if (c < 33 || c > 126) throw new Error(`'${text[i]}' is not a valid character in a header name`);
      }
      const value = text.slice(colon + 1, end);
      if (value.includes("\r") || value.includes("\n"))
        throw new Error("header values cannot contain \\r or \\n");
      const name = text.slice(start, colon).toLowerCase();
      // First value wins, as with the client's headers.get().
      if (!values.has(name)) values.set(name, value.trim());
    }
    start = end === text.length ? -1 : end;
  }
  return values;
}

export function readHeader(h: HeaderValues, name: string): string | undefined {
  return h.get(name.toLowerCase());
}

// Lower-cased once: readEnvelope runs for every delivery.
const JOB_ID = Header.JobId.toLowerCase();
const MSG_ID = Header.MsgId.toLowerCase();
const ATTEMPT = Header.Attempt.toLowerCase();
const MAX_ATTEMPTS = Header.MaxAttempts.toLowerCase();
const TIMEOUT_MS = Header.TimeoutMs.toLowerCase();
const ENQUEUED_AT = Header.EnqueuedAt.toLowerCase();
const DUE_AT = Header.DueAt.toLowerCase();
const CONTENT_TYPE = Header.ContentType.toLowerCase();
const TRACE_PARENT = Header.TraceParent.toLowerCase();
const TRACE_STATE = Header.TraceState.toLowerCase();
const RESULT = Header.Result.toLowerCase();
const UNIQUE_KEY = Header.UniqueKey.toLowerCase();

/** `key` is the lower-cased header name, `name` its spelling for the error message. */
function positiveInteger(h: HeaderValues, key: string, name: string): number | undefined {
  const raw = h.get(key);
  if (raw === undefined) return undefined;
  // Decimal digits only: other languages' readers reject "0x2", "1e3" or "+3", so we do too.
  const value = /^[1-9][0-9]*$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(value)) {
    throw new DecodeError(`header ${name} must be a positive integer, got "${raw}"`);
  }
  return value;
}

/**
 * Builds the envelope of a delivery. `deliveryCount` comes from JetStream; the attempt is the
 * message's starting attempt plus its redeliveries (docs/wire-format.md, "Attempts").
 */
export function readEnvelope(input: {
  queue: string;
  name: string;
  headers: HeaderValues;
  streamSequence: number;
  deliveryCount: number;
}): JobEnvelope {
  const h = input.headers;
  // An empty id would name no job in events, dead letters or commands: it counts as absent.
  const id = h.get(JOB_ID) || h.get(MSG_ID) || `${input.queue}-${input.streamSequence}`;
  const firstAttempt = positiveInteger(h, ATTEMPT, Header.Attempt) ?? 1;
  const enqueuedAt = h.get(ENQUEUED_AT);
  return {
    id,
    queue: input.queue,
    name: input.name,
    attempt: firstAttempt + input.deliveryCount - 1,
    maxAttempts: positiveInteger(h, MAX_ATTEMPTS, Header.MaxAttempts),
    timeoutMs: positiveInteger(h, TIMEOUT_MS, Header.TimeoutMs),
    enqueuedAt: enqueuedAt === undefined || !/^\d+$/.test(enqueuedAt) ? undefined : Number(enqueuedAt),
    dueAt: epochMs(h.get(DUE_AT)),
    contentType: h.get(CONTENT_TYPE),
    traceParent: h.get(TRACE_PARENT),
    traceState: h.get(TRACE_STATE),
    resultWanted: h.get(RESULT) === "1",
    uniqueKey: h.get(UNIQUE_KEY),
  };
}

/** A time header: decimal ms since the epoch; any other value is ignored (not an error). */
export function epochMs(raw: string | undefined): number | undefined {
  return raw === undefined || !/^\d{1,16}$/.test(raw) ? undefined : Number(raw);
}

/** Decodes a job payload, enforcing the size limit first. */
export function readPayload(
  data: Uint8Array,
  contentType: string | undefined,
  maxPayloadBytes: number,
): unknown {
  if (data.length > maxPayloadBytes) throw new PayloadTooLargeError(data.length, maxPayloadBytes);
  return decodePayload(data, contentType);
}
