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
  /** Extra headers, e.g. W3C trace context. */
  extraHeaders?: Record<string, string>;
}

export function buildJobHeaders(options: JobMessageOptions): MsgHdrs {
  const h = createHeaders();
  h.set(Header.Version, WIRE_VERSION);
  h.set(Header.JobId, options.jobId);
  h.set(Header.ContentType, contentTypeOf(options.encoding));
  h.set(Header.EnqueuedAt, String(options.enqueuedAt ?? Date.now()));
  if (options.dueAt !== undefined) h.set(Header.DueAt, String(options.dueAt));
  if (options.attempt !== undefined && options.attempt !== 1) h.set(Header.Attempt, String(options.attempt));
  if (options.maxAttempts !== undefined) h.set(Header.MaxAttempts, String(options.maxAttempts));
  if (options.timeoutMs !== undefined) h.set(Header.TimeoutMs, String(options.timeoutMs));
  for (const [key, value] of Object.entries(options.extraHeaders ?? {})) h.set(key, value);
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

export function readHeader(h: HeaderValues, name: string): string | undefined {
  return h.get(name.toLowerCase());
}

function positiveInteger(h: HeaderValues, name: string): number | undefined {
  const raw = readHeader(h, name);
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
  const id =
    readHeader(h, Header.JobId) ?? readHeader(h, Header.MsgId) ?? `${input.queue}-${input.streamSequence}`;
  const firstAttempt = positiveInteger(h, Header.Attempt) ?? 1;
  const enqueuedAt = readHeader(h, Header.EnqueuedAt);
  const dueAt = readHeader(h, Header.DueAt);
  return {
    id,
    queue: input.queue,
    name: input.name,
    attempt: firstAttempt + input.deliveryCount - 1,
    maxAttempts: positiveInteger(h, Header.MaxAttempts),
    timeoutMs: positiveInteger(h, Header.TimeoutMs),
    enqueuedAt: epochMs(enqueuedAt),
    dueAt: epochMs(dueAt),
    contentType: readHeader(h, Header.ContentType),
    traceParent: readHeader(h, Header.TraceParent),
    traceState: readHeader(h, Header.TraceState),
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
