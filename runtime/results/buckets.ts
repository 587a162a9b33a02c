// The two KV buckets behind results and uniqueness: their names, settings and creation. On
// nats-server 2.9.10 a KV entry's lifetime is its bucket's max age, so each bucket's max age is
// the retention of everything in it (docs/results-and-uniqueness.md).
import { JetStreamApiError, type JetStreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { type NatsConnection, nanos } from "@nats-io/transport-node";
import { JetmeshError } from "../errors.ts";
import type { Subjects } from "../wire/subjects.ts";

/** How long job states and results are kept unless set otherwise (client.setResultRetention). */
export const DEFAULT_RESULT_TTL_MS = 24 * 3600_000;
/**
 * How long a uniqueness entry outlives its last write. It bounds the state the feature keeps, and
 * so the longest uniqueness window (and the longest a forgotten entry can hold a key).
 */
export const UNIQUE_MAX_AGE_MS = 7 * 24 * 3600_000;

/** `<prefix>_results`: one record per job enqueued with `result: true`, keyed by jobKey(jobId). */
export function resultsBucket(subjects: Subjects): string {
  return `${subjects.prefix}_results`;
}

/** `<prefix>_unique`: one entry per queue and uniqueness key, `<queue>.<hash of the key>`. */
export function uniqueBucket(subjects: Subjects): string {
  return `${subjects.prefix}_unique`;
}

/** The stream a KV bucket is stored in (the KV convention of every NATS client). */
function kvStream(bucket: string): string {
  return `KV_${bucket}`;
}

/**
 * Creates both buckets when missing; existing ones keep their settings, so a retention set at run
 * time survives later declarations.
 */
export async function ensureResultBuckets(
  nc: NatsConnection,
  subjects: Subjects,
  replicas: number,
): Promise<void> {
  const kvm = new Kvm(nc);
  await kvm.create(resultsBucket(subjects), { history: 1, ttl: DEFAULT_RESULT_TTL_MS, replicas });
  await kvm.create(uniqueBucket(subjects), { history: 1, ttl: UNIQUE_MAX_AGE_MS, replicas });
}

/**
 * Sets how long every job state and result of the mesh is kept: the results bucket's max age.
 * JetStream applies it to stored entries too, so shortening it drops older results at once.
 */
export async function setResultRetention(
  jsm: JetStreamManager,
  subjects: Subjects,
  ttlMs: number,
): Promise<void> {
  if (!Number.isSafeInteger(ttlMs) || ttlMs < 1000) {
    throw new JetmeshError(
      "INVALID_OPTIONS",
      `result retention must be a whole number of ms, at least 1000, got ${ttlMs}`,
    );
  }
  const stream = kvStream(resultsBucket(subjects));
  const info = await jsm.streams.info(stream).catch((error: unknown) => {
    if (!(error instanceof JetStreamApiError && error.status === 404)) throw error;
    throw new JetmeshError(
      "INVALID_OPTIONS",
      `the results bucket ${resultsBucket(subjects)} does not exist yet: declare a queue first`,
    );
  });
  await jsm.streams.update(stream, { ...info.config, max_age: nanos(ttlMs) });
}
