// Payload encoding: standard MessagePack (no msgpackr records, so any language can decode it)
// or JSON, chosen by Content-Type; an unlabelled payload is sniffed as JSON, then MessagePack.
import { C1, Packr, Unpackr } from "msgpackr";
import { DecodeError } from "../errors.ts";
import { ContentType } from "./headers.ts";

export type Encoding = "json" | "msgpack";

const packr = new Packr({ useRecords: false, encodeUndefinedAsNil: true });
// int64AsType "auto": 64-bit integers (as Go and Java encoders often write even small values)
// become numbers when they fit, BigInt only when they do not. msgpackr supports it; its type
// declarations do not list it yet.
const unpackr = new Unpackr({
  useRecords: false,
  mapsAsObjects: true,
  ...({ int64AsType: "auto" } as object),
});
const utf8Decoder = new TextDecoder("utf-8", { fatal: true });
const utf8Encoder = new TextEncoder();
const EMPTY = new Uint8Array(0);

export function contentTypeOf(encoding: Encoding): string {
  return encoding === "json" ? ContentType.Json : ContentType.MessagePack;
}

export function encodePayload(payload: unknown, encoding: Encoding): Uint8Array {
  if (payload === undefined) return EMPTY;
  if (encoding === "json") return utf8Encoder.encode(JSON.stringify(payload));
  return packr.pack(payload);
}

// Producers send the same one or two Content-Type strings over and over: remember the last one.
let lastContentType: string | undefined;
let lastEncoding: Encoding | undefined;

/** Maps a Content-Type header to an encoding; undefined means "sniff". */
export function encodingOf(contentType: string | undefined): Encoding | undefined {
  if (contentType === undefined || contentType === "") return undefined;
  if (contentType === lastContentType) return lastEncoding;
  const encoding = parseContentType(contentType);
  lastContentType = contentType;
  lastEncoding = encoding;
  return encoding;
}

function parseContentType(contentType: string): Encoding {
  const mediaType = contentType.split(";", 1)[0]?.trim().toLowerCase();
  if (mediaType === "application/json") return "json";
  if (
    mediaType === "application/msgpack" ||
    mediaType === "application/x-msgpack" ||
    mediaType === "application/vnd.msgpack"
  ) {
    return "msgpack";
  }
  throw new DecodeError(
    `unsupported Content-Type "${contentType}": use ${ContentType.Json} or ${ContentType.MessagePack}`,
  );
}

export function decodePayload(data: Uint8Array, contentType: string | undefined): unknown {
  const encoding = encodingOf(contentType);
  if (data.length === 0) return undefined;
  if (encoding === "json") return decodeJson(data);
  if (encoding === "msgpack") return decodeMessagePack(data);
  return sniff(data);
}

function decodeJson(data: Uint8Array): unknown {
  try {
    return JSON.parse(utf8Decoder.decode(data));
  } catch (error) {
    throw new DecodeError(`payload is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
}

function decodeMessagePack(data: Uint8Array): unknown {
  try {
    const values = unpackr.unpackMultiple(data as Buffer);
    if (values === undefined || values.length !== 1) {
      throw new Error(`expected exactly one value, found ${values?.length ?? 0}`);
    }
    // 0xC1 is "never used" in MessagePack; msgpackr returns a marker object instead of failing.
    // Only bytes that contain 0xC1 somewhere (a native scan) can hold one.
    if (data.indexOf(0xc1) !== -1 && containsNeverUsed(values[0]))
      throw new Error("0xC1 is not a valid MessagePack type byte");
    return values[0];
  } catch (error) {
    throw new DecodeError(`payload is not valid MessagePack: ${(error as Error).message}`, { cause: error });
  }
}

function containsNeverUsed(value: unknown): boolean {
  if (value === C1) return true;
  if (value === null || typeof value !== "object") return false;
  for (const item of Array.isArray(value) ? value : Object.values(value))
    if (containsNeverUsed(item)) return true;
  return false;
}

function sniff(data: Uint8Array): unknown {
  try {
    return decodeJson(data);
  } catch {
    try {
      return decodeMessagePack(data);
    } catch {
      throw new DecodeError("payload has no Content-Type and is neither valid JSON nor valid MessagePack");
    }
  }
}
