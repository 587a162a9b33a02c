// Job payloads of a given encoded size: an order-like record (ids, a time, line items with
// integers and decimals, a free-text note), so MessagePack and JSON encode real structure rather
// than one long string. Deterministic, built once per size and encoding.
import { encodePayload } from "../../runtime/index.ts";
import type { PayloadSpec } from "../scenario.ts";

export interface Payload {
  /** What a jetmesh producer enqueues (encoded by the client with `spec.encoding`). */
  value: unknown;
  /** The same value encoded: what the raw baseline publishes, byte for byte. */
  data: Uint8Array;
}

interface Order {
  id: string;
  customer: string;
  currency: string;
  at: number;
  lines: { sku: string; qty: number; price: number; discounted: boolean }[];
  note: string;
}

const cache = new Map<string, Payload>();

/** "100 B", "10 KB", "256 KB": sizes as the scenarios name them. */
export function formatBytes(bytes: number): string {
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KB`;
  return `${bytes} B`;
}

function line(index: number): Order["lines"][number] {
  return {
    sku: `SKU-${String(100_000 + ((index * 7919) % 900_000))}`,
    qty: 1 + (index % 7),
    price: ((index * 3719) % 100_000) / 100 + 0.01,
    discounted: index % 3 === 0,
  };
}

/**
 * A payload whose encoding is as close to `spec.bytes` as the format allows without exceeding it:
 * line items are added while they fit, then the note pads the rest.
 */
export function payloadFor(spec: PayloadSpec): Payload {
  const key = `${spec.encoding}:${spec.bytes}`;
  const cached = cache.get(key);
  if (cached !== undefined) return cached;
  const size = (order: Order) => encodePayload(order, spec.encoding).length;
  const order: Order = {
    id: "ord-000042",
    customer: "c-81723",
    currency: "EUR",
    at: 1_796_083_200_000,
    lines: [],
    note: "",
  };
  // The line items are a list of similar records, so a size estimate per item is enough to get
  // close quickly; the exact fit is found by adding or removing one at a time.
  const perLine = size({ ...order, lines: [line(0), line(1)] }) - size({ ...order, lines: [line(0)] });
  for (let round = 0; round < 4; round++) {
    const more = Math.floor((spec.bytes - 16 - size(order)) / perLine);
    if (more === 0) break;
    const length = Math.max(0, order.lines.length + more);
    order.lines = Array.from({ length }, (_, index) => line(index));
  }
  while (order.lines.length > 0 && size(order) > spec.bytes - 16) order.lines.pop();
  while (size({ ...order, lines: [...order.lines, line(order.lines.length)] }) <= spec.bytes - 16) {
    order.lines.push(line(order.lines.length));
  }
  // A string's length header grows at some lengths, so settle the note's length by stepping.
  let pad = Math.max(0, spec.bytes - size(order));
  const withNote = (length: number) => ({ ...order, note: "n".repeat(length) });
  while (pad > 0 && size(withNote(pad)) > spec.bytes) pad--;
  const value = withNote(pad);
  const payload = { value, data: encodePayload(value, spec.encoding) };
  if (payload.data.length > spec.bytes) {
    throw new Error(`could not fit a ${spec.encoding} payload into ${spec.bytes} bytes`);
  }
  cache.set(key, payload);
  return payload;
}
