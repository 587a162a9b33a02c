// Reads the messages of a stream that match a subject filter, in order, through a short-lived
// ephemeral consumer (batched pulls, optionally headers only). Used on the dead-letter stream,
// which any number of consumers may read; queue streams (WorkQueue) allow no second consumer and
// are walked with jobs/queue-walk.ts instead.
import { randomBytes } from "node:crypto";
import { AckPolicy, DeliverPolicy } from "@nats-io/jetstream";
import { type MsgHdrs, nanos } from "@nats-io/transport-node";
import type { Mesh } from "../mesh.ts";

export interface StoredMessage {
  seq: number;
  subject: string;
  headers: MsgHdrs | undefined;
  data: Uint8Array;
  /** When JetStream stored it, ms since epoch. */
  storedAt: number;
}

export interface ScanOptions {
  filterSubject: string;
  headersOnly: boolean;
  /** Stop after this many messages; the result says whether more matched. */
  limit: number;
}

const BATCH = 256;

export async function scanStream(
  mesh: Mesh,
  stream: string,
  options: ScanOptions,
  visit: (message: StoredMessage) => void,
): Promise<{ total: number; scanned: number; truncated: boolean }> {
  const name = `jetmesh_scan_${randomBytes(6).toString("hex")}`;
  const info = await mesh.jsm.consumers.add(stream, {
    name,
    ack_policy: AckPolicy.None,
    deliver_policy: DeliverPolicy.All,
    filter_subject: options.filterSubject,
    headers_only: options.headersOnly,
    mem_storage: true,
    inactive_threshold: nanos(30_000),
  });
  const total = info.num_pending;
  let scanned = 0;
  try {
    const consumer = await mesh.js.consumers.get(stream, name);
    const wanted = Math.min(total, options.limit);
    while (scanned < wanted) {
      const batch = await consumer.fetch({ max_messages: Math.min(BATCH, wanted - scanned), expires: 5000 });
      let received = 0;
      let done = false;
      for await (const msg of batch) {
        received++;
        scanned++;
        visit({
          seq: msg.seq,
          subject: msg.subject,
          headers: msg.headers,
          data: msg.data,
          storedAt: Math.floor(msg.info.timestampNanos / 1_000_000),
        });
        if (msg.info.pending === 0 || scanned >= wanted) {
          done = true;
          break;
        }
      }
      if (done || received === 0) break;
    }
  } finally {
    await mesh.jsm.consumers.delete(stream, name).catch(() => {});
  }
  return { total, scanned, truncated: scanned < total };
}
