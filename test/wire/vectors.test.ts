// The conformance vectors of the wire format (test/wire/vectors.json, docs/wire-format.md) checked
// both ways: every vector decodes with runtime/wire to its expected job or error, and every
// expected job encoded by runtime/wire decodes back to itself in standard MessagePack or JSON.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { headers, type MsgHdrs } from "@nats-io/transport-node";
import { Unpackr } from "msgpackr";
import { JetmeshError, PayloadTooLargeError } from "../../runtime/errors.ts";
import type { Encoding } from "../../runtime/wire/codec.ts";
import { encodePayload } from "../../runtime/wire/codec.ts";
import { ContentType, Header, WIRE_VERSION } from "../../runtime/wire/headers.ts";
import {
  buildJobMessage,
  headerValues,
  parseHeaderBlock,
  readEnvelope,
  readPayload,
} from "../../runtime/wire/job-message.ts";
import { Subjects } from "../../runtime/wire/subjects.ts";

interface ExpectedJob {
  id: string;
  queue: string;
  name: string;
  attempt: number;
  maxAttempts: number | null;
  timeoutMs: number | null;
  enqueuedAt: number | null;
  /** Present only when the message carries a valid Jetmesh-Due-At (a delayed job). */
  dueAt?: number;
  /** Absent when the message has no payload (an empty body). */
  payload?: unknown;
}

interface ExpectedError {
  class: string;
  code: string;
  deadReason: string;
  message: string;
}

interface Vector {
  name: string;
  description: string;
  subject: string;
  headers: Record<string, string>;
  payload: string;
  deliveryCount: number;
  streamSequence: number;
  maxPayloadBytes: number;
  job?: ExpectedJob;
  error?: ExpectedError;
}

interface VectorFile {
  format: string;
  wireVersion: string;
  vectors: Vector[];
}

const file = JSON.parse(readFileSync(new URL("./vectors.json", import.meta.url), "utf8")) as VectorFile;
const subjects = new Subjects();

/**
 * Vectors the reference implementation does not meet yet. Each one still runs, reported as a
 * to-do instead of a failure, until runtime/wire is fixed (docs/wire-format.md, "Known deviations").
 */

function bytesOf(base64: string): Uint8Array {
  return new Uint8Array(Buffer.from(base64, "base64"));
}

function headersOf(record: Record<string, string>): MsgHdrs {
  const h = headers();
  for (const [name, value] of Object.entries(record)) h.set(name, value);
  return h;
}

/** Decodes one delivery the way a worker does: envelope from the headers, then the payload. */
function decode(
  subject: string,
  h: MsgHdrs,
  data: Uint8Array,
  delivery: { deliveryCount: number; streamSequence: number; maxPayloadBytes: number },
): ExpectedJob {
  const parsed = subjects.parseJob(subject);
  assert.ok(parsed, `${subject} is a job subject`);
  // Workers read the header block as it arrives; it must agree with the client's own parse.
  const values = parseHeaderBlock((h as MsgHdrs & { encode(): Uint8Array }).encode());
  assert.deepEqual(values, headerValues(h));
  const envelope = readEnvelope({
    queue: parsed.queue,
    name: parsed.name,
    headers: values,
    streamSequence: delivery.streamSequence,
    deliveryCount: delivery.deliveryCount,
  });
  const payload = readPayload(data, envelope.contentType, delivery.maxPayloadBytes);
  return {
    id: envelope.id,
    queue: envelope.queue,
    name: envelope.name,
    attempt: envelope.attempt,
    maxAttempts: envelope.maxAttempts ?? null,
    timeoutMs: envelope.timeoutMs ?? null,
    enqueuedAt: envelope.enqueuedAt ?? null,
    ...(envelope.dueAt === undefined ? {} : { dueAt: envelope.dueAt }),
    ...(payload === undefined ? {} : { payload }),
  };
}

function decodeVector(vector: Vector): ExpectedJob {
  return decode(vector.subject, headersOf(vector.headers), bytesOf(vector.payload), vector);
}

/** The dead-letter reason a worker gives a job that fails to decode with this error. */
function deadReasonOf(error: unknown): string {
  return error instanceof PayloadTooLargeError ? "payload-too-large" : "decode-failed";
}

/**
 * A strict decoder of standard MessagePack, independent of msgpackr: one value, no extension
 * types, no 0xc1, UTF-8 strings, string map keys, 64-bit integers only within the safe range.
 */
function strictUnpack(bytes: Uint8Array): unknown {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const utf8 = new TextDecoder("utf-8", { fatal: true });
  let at = 0;
  const take = (n: number): number => {
    if (at + n > bytes.length) throw new Error(`truncated: ${n} bytes needed at offset ${at}`);
    const start = at;
    at += n;
    return start;
  };
  const u8 = () => view.getUint8(take(1));
  const u16 = () => view.getUint16(take(2));
  const u32 = () => view.getUint32(take(4));
  const int64 = (signed: boolean): number => {
    const start = take(8);
    const value = signed ? view.getBigInt64(start) : view.getBigUint64(start);
    if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
      throw new Error("64-bit integer outside the safe range");
    }
    return Number(value);
  };
  const str = (n: number) => utf8.decode(bytes.subarray(take(n), at));
  const bin = (n: number) => bytes.slice(take(n), at);
  const array = (n: number): unknown[] => {
    const items: unknown[] = [];
    for (let i = 0; i < n; i++) items.push(value());
    return items;
  };
  const map = (n: number): Record<string, unknown> => {
    const object: Record<string, unknown> = {};
    for (let i = 0; i < n; i++) {
      const key = value();
      if (typeof key !== "string") throw new Error(`map key of type ${typeof key}`);
      object[key] = value();
    }
    return object;
  };
  function value(): unknown {
    const b = u8();
    if (b <= 0x7f) return b;
    if (b >= 0xe0) return b - 0x100;
    if (b <= 0x8f) return map(b & 0x0f);
    if (b <= 0x9f) return array(b & 0x0f);
    if (b <= 0xbf) return str(b & 0x1f);
    switch (b) {
      case 0xc0:
        return null;
      case 0xc2:
        return false;
      case 0xc3:
        return true;
      case 0xc4:
        return bin(u8());
      case 0xc5:
        return bin(u16());
      case 0xc6:
        return bin(u32());
      case 0xca:
        return view.getFloat32(take(4));
      case 0xcb:
        return view.getFloat64(take(8));
      case 0xcc:
        return u8();
      case 0xcd:
        return u16();
      case 0xce:
        return u32();
      case 0xcf:
        return int64(false);
      case 0xd0:
        return view.getInt8(take(1));
      case 0xd1:
        return view.getInt16(take(2));
      case 0xd2:
        return view.getInt32(take(4));
      case 0xd3:
        return int64(true);
      case 0xd9:
        return str(u8());
      case 0xda:
        return str(u16());
      case 0xdb:
        return str(u32());
      case 0xdc:
        return array(u16());
      case 0xdd:
        return array(u32());
      case 0xde:
        return map(u16());
      case 0xdf:
        return map(u32());
      default:
        // 0xc1 (never used), 0xc7-0xc9 and 0xd4-0xd8 (extension types).
        throw new Error(
          `type byte 0x${b.toString(16)} at offset ${at - 1} is ${b === 0xc1 ? "never used" : "an extension type"}`,
        );
    }
  }
  const result = value();
  if (at !== bytes.length) throw new Error(`${bytes.length - at} bytes after the value`);
  return result;
}

/** The header block as a NATS client sends it, parsed by the protocol's rules. */
function wireHeaders(h: MsgHdrs): Record<string, string> {
  const encode = (h as MsgHdrs & { encode?: () => Uint8Array }).encode;
  assert.equal(typeof encode, "function", "MsgHdrs can render its wire form");
  const text = new TextDecoder("utf-8", { fatal: true }).decode(encode!.call(h));
  assert.ok(text.startsWith("NATS/1.0\r\n"), "the block starts with the version line");
  assert.ok(text.endsWith("\r\n\r\n"), "the block ends with an empty line");
  const record: Record<string, string> = {};
  for (const line of text.slice("NATS/1.0\r\n".length, -4).split("\r\n")) {
    const colon = line.indexOf(":");
    assert.ok(colon > 0, `header line "${line}" has a name and a colon`);
    const name = line.slice(0, colon);
    assert.match(name, /^[!-9;-~]+$/, "header names are printable ASCII without colons");
    assert.equal(record[name], undefined, `${name} is written once`);
    record[name] = line.slice(colon + 1).trim();
  }
  return record;
}

test("the vector file is well formed", () => {
  assert.equal(file.format, "jetmesh-wire-vectors");
  assert.equal(file.wireVersion, WIRE_VERSION);
  assert.ok(file.vectors.length > 0);
  const names = new Set<string>();
  for (const vector of file.vectors) {
    assert.ok(!names.has(vector.name), `vector names are unique (${vector.name})`);
    names.add(vector.name);
    assert.ok(
      (vector.job === undefined) !== (vector.error === undefined),
      `${vector.name}: exactly one of job and error`,
    );
    assert.equal(
      Buffer.from(vector.payload, "base64").toString("base64"),
      vector.payload,
      "canonical base64",
    );
    assert.ok(Number.isSafeInteger(vector.deliveryCount) && vector.deliveryCount >= 1);
    assert.ok(Number.isSafeInteger(vector.streamSequence) && vector.streamSequence >= 1);
    assert.ok(Number.isSafeInteger(vector.maxPayloadBytes) && vector.maxPayloadBytes >= 0);
    for (const value of Object.values(vector.headers)) assert.doesNotMatch(value, /[\r\n]/);
  }
});

for (const vector of file.vectors) {
  test(`decode: ${vector.name}`, () => {
    const expectedError = vector.error;
    if (expectedError === undefined) {
      assert.deepEqual(decodeVector(vector), vector.job);
      return;
    }
    assert.throws(
      () => decodeVector(vector),
      (error: unknown) => {
        assert.ok(error instanceof JetmeshError, `a JetmeshError, got ${String(error)}`);
        assert.equal(error.name, expectedError.class);
        assert.equal(error.code, expectedError.code);
        assert.equal(deadReasonOf(error), expectedError.deadReason);
        assert.ok(
          error.message.includes(expectedError.message),
          `"${error.message}" includes "${expectedError.message}"`,
        );
        return true;
      },
    );
  });
}

test("the vectors agree with a strict standard MessagePack decoder and JSON.parse", () => {
  const utf8 = new TextDecoder("utf-8", { fatal: true });
  for (const vector of file.vectors) {
    const data = bytesOf(vector.payload);
    // Header errors and size errors say nothing about the payload's encoding.
    if (data.length === 0 || data.length > vector.maxPayloadBytes) continue;
    if (vector.error?.message.startsWith("header ")) continue;
    const contentType = Object.entries(vector.headers)
      .find(([name]) => name.toLowerCase() === "content-type")?.[1]
      .split(";")[0]
      ?.trim()
      .toLowerCase();
    if (
      contentType !== undefined &&
      contentType !== "" &&
      !/^application\/(json|(x-|vnd\.)?msgpack)$/.test(contentType)
    ) {
      continue;
    }
    const json = () => JSON.parse(utf8.decode(data)) as unknown;
    const msgpack = () => strictUnpack(data);
    const sniff = () => {
      try {
        return json();
      } catch {
        return msgpack();
      }
    };
    const reference =
      contentType === "application/json" ? json : contentType?.endsWith("msgpack") ? msgpack : sniff;
    if (vector.job !== undefined)
      assert.deepEqual(reference(), vector.job.payload, `${vector.name}: payload`);
    else assert.throws(reference, `${vector.name}: the payload is invalid`);
  }
});

for (const vector of file.vectors) {
  const job = vector.job;
  if (job === undefined) continue;
  for (const encoding of ["json", "msgpack"] as const satisfies readonly Encoding[]) {
    test(`encode then decode (${encoding}): ${vector.name}`, () => {
      const firstAttempt = job.attempt - vector.deliveryCount + 1;
      const { data, headers: h } = buildJobMessage(job.payload, {
        jobId: job.id,
        encoding,
        attempt: firstAttempt,
        maxAttempts: job.maxAttempts ?? undefined,
        timeoutMs: job.timeoutMs ?? undefined,
        enqueuedAt: job.enqueuedAt ?? undefined,
        dueAt: job.dueAt,
      });
      const sent = wireHeaders(h);
      assert.equal(sent[Header.Version], WIRE_VERSION);
      assert.equal(sent[Header.JobId], job.id);
      assert.equal(
        sent[Header.ContentType],
        encoding === "json" ? ContentType.Json : ContentType.MessagePack,
      );
      assert.match(sent[Header.EnqueuedAt] ?? "", /^\d+$/, "the encoder always stamps the enqueue time");
      if (firstAttempt === 1) assert.equal(sent[Header.Attempt], undefined, "attempt 1 is the default");

      const subject = subjects.job(job.queue, job.name);
      assert.equal(subject, vector.subject);
      const decoded = decode(subject, headersOf(sent), data, {
        deliveryCount: vector.deliveryCount,
        streamSequence: vector.streamSequence,
        maxPayloadBytes: Math.max(vector.maxPayloadBytes, data.length),
      });
      assert.deepEqual(decoded, { ...job, enqueuedAt: job.enqueuedAt ?? Number(sent[Header.EnqueuedAt]) });

      if (job.payload === undefined) {
        assert.equal(data.length, 0, "no payload is an empty body");
      } else if (encoding === "msgpack") {
        assert.deepEqual(strictUnpack(data), job.payload, "standard MessagePack");
        assert.deepEqual(new Unpackr({ useRecords: false }).unpack(data), job.payload);
      } else {
        assert.deepEqual(JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(data)), job.payload);
      }
    });
  }
}

test("MessagePack from the encoder has no msgpackr records for repeated object shapes", () => {
  // msgpackr's record extension would kick in for many objects of one shape; other languages cannot read it.
  const rows = Array.from({ length: 200 }, (_, i) => ({
    id: i,
    name: `row-${i}`,
    nested: { ok: i % 2 === 0 },
  }));
  const payload = { rows, again: rows.slice(0, 3) };
  for (let round = 0; round < 3; round++) {
    const data = encodePayload(payload, "msgpack");
    assert.deepEqual(strictUnpack(data), payload);
    assert.deepEqual(new Unpackr({ useRecords: false }).unpack(data), payload);
  }
});
