// Reads the current records of the control bucket under a key prefix (paused.…, drain.…) with
// plain stream requests: the subjects the bucket's stream holds, then the last message of each.
// No consumer is created, so status requests stay cheap however often they come.
import type { Mesh } from "../mesh.ts";
import { kvStream, kvSubject } from "../names.ts";

export interface ControlRecord {
  key: string;
  value: Record<string, unknown>;
  /** When the record was written (server time, ms since epoch). */
  writtenAt: number;
}

const OPERATION_HEADER = "KV-Operation";

export async function readControlRecords(mesh: Mesh, keyFilter: string): Promise<ControlRecord[]> {
  const bucket = mesh.controlBucket;
  const stream = kvStream(bucket);
  const prefix = kvSubject(bucket, "");
  let subjects: string[];
  try {
    const info = await mesh.jsm.streams.info(stream, { subjects_filter: kvSubject(bucket, keyFilter) });
    subjects = Object.keys(info.state.subjects ?? {});
  } catch {
    return []; // no bucket yet: nothing is paused or draining
  }
  const records: ControlRecord[] = [];
  const messages = await Promise.all(
    subjects.map((subject) =>
      mesh.jsm.streams.getMessage(stream, { last_by_subj: subject }).catch(() => null),
    ),
  );
  for (const msg of messages) {
    if (msg === null) continue;
    const operation = msg.header?.get(OPERATION_HEADER);
    if (operation === "DEL" || operation === "PURGE") continue;
    let value: Record<string, unknown> = {};
    try {
      value = msg.data.length === 0 ? {} : (msg.json() as Record<string, unknown>);
    } catch {
      // a record written by hand (e.g. `nats kv put`) may not be JSON: it still counts
    }
    records.push({ key: msg.subject.slice(prefix.length), value, writtenAt: msg.time.getTime() });
  }
  return records.sort((a, b) => a.key.localeCompare(b.key));
}
