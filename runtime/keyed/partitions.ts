// How keyed jobs map onto a queue's stream: a key hashes to one of the queue's partitions, each
// partition is a subject range of the queue's WorkQueue stream read by one durable consumer, and
// the partition count is stored once, in the keyed bucket, when the queue is declared
// (docs/keyed-jobs.md).
import type { KV, Kvm } from "@nats-io/kv";
import { JetmeshError } from "../errors.ts";
import { isNotFound } from "../jetstream/queues.ts";
import type { Subjects } from "../wire/subjects.ts";

/** Most partitions a queue may have: each is a consumer and a lease per queue. */
export const MAX_KEY_PARTITIONS = 1024;
/** Longest key, in UTF-16 code units: it travels in a header of every job. */
export const MAX_KEY_LENGTH = 1024;

/** `<prefix>_keyed`: partition counts of keyed queues, partition leases and their owners. */
export function keyedBucket(subjects: Subjects): string {
  return `${subjects.prefix}_keyed`;
}

/** `<prefix>.keyed.<queue>.<partition>.<name…>`: where a keyed job is published. */
export function keyedSubject(subjects: Subjects, queue: string, partition: number, name: string): string {
  return `${subjects.prefix}.keyed.${queue}.${partition}.${name}`;
}

/** Every keyed subject of a queue: the second subject of its stream. */
export function keyedFilter(subjects: Subjects, queue: string): string {
  return `${subjects.prefix}.keyed.${queue}.>`;
}

/** One partition's subjects: its consumer's filter. */
export function partitionFilter(subjects: Subjects, queue: string, partition: number): string {
  return `${subjects.prefix}.keyed.${queue}.${partition}.>`;
}

/** Reads the job name out of a keyed subject of `queue`. */
export function keyedJobNameReader(subjects: Subjects, queue: string): (subject: string) => string {
  const afterQueue = `${subjects.prefix}.keyed.${queue}.`.length;
  return (subject) => subject.slice(subject.indexOf(".", afterQueue) + 1);
}

/**
 * Names of a partition's consumer: one per holding of its lease, so acknowledgements sent by a
 * previous owner land on a consumer that no longer exists instead of on its successor's.
 */
export function partitionConsumerPrefix(partition: number): string {
  return `keyed-${partition}-`;
}

/**
 * The partition of a key: 32-bit FNV-1a over the key's UTF-8 bytes, modulo the partition count.
 * Part of the wire contract (docs/wire-format.md): producers in other languages compute the same.
 */
export function partitionOf(key: string, partitions: number): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(key, "utf8")) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % partitions;
}

export function assertKey(key: unknown): asserts key is string {
  // Control characters would break the header line (CR, LF) or be hard to tell apart in logs.
  if (typeof key !== "string" || key.length === 0 || key.length > MAX_KEY_LENGTH || /\p{Cc}/u.test(key)) {
    throw new JetmeshError(
      "INVALID_OPTIONS",
      `enqueue option key must be 1-${MAX_KEY_LENGTH} characters without control characters, got ${JSON.stringify(key)}`,
    );
  }
}

export function assertKeyPartitions(value: number): void {
  if (!Number.isSafeInteger(value) || value < 0 || value > MAX_KEY_PARTITIONS) {
    throw new JetmeshError(
      "INVALID_OPTIONS",
      `queue option keyPartitions must be an integer from 0 (no keyed jobs) to ${MAX_KEY_PARTITIONS}, got ${value}`,
    );
  }
}

export function openKeyedBucket(kvm: Kvm, subjects: Subjects, replicas = 1): Promise<KV> {
  return kvm.create(keyedBucket(subjects), { history: 1, replicas });
}

function partitionsKey(queue: string): string {
  return `${queue}.partitions`;
}

/** The queue's partition count; 0 when it takes no keyed jobs. */
export async function readKeyPartitions(kv: KV, queue: string): Promise<number> {
  // A mesh whose queues were all declared before keyed jobs existed has no keyed bucket.
  const entry = await kv.get(partitionsKey(queue)).catch((error: unknown) => {
    if (isNotFound(error) || /no responders|not found/i.test((error as Error).message ?? "")) return null;
    throw error;
  });
  if (entry === null || entry.operation !== "PUT") return 0;
  return Number(entry.string());
}

/**
 * Settles the queue's partition count at declaration: the first non-zero count is kept for good,
 * since a different count sends a key's later jobs to another partition than its waiting ones
 * (they could overtake them). Returns the count in force; `requested` undefined keeps it.
 */
export async function settleKeyPartitions(
  kv: KV,
  queue: string,
  requested: number | undefined,
): Promise<number> {
  const current = await readKeyPartitions(kv, queue);
  if (requested === undefined || requested === current) return current;
  assertKeyPartitions(requested);
  if (current !== 0) {
    throw new JetmeshError(
      "INVALID_OPTIONS",
      `queue "${queue}" has ${current} key partitions; they cannot change to ${requested}, since jobs of one key would then wait in two partitions and could overtake each other. Declare a new queue for another count.`,
    );
  }
  // create: two declarations racing with different counts must not both win.
  await kv.create(partitionsKey(queue), String(requested)).catch(async (error: unknown) => {
    const winner = await readKeyPartitions(kv, queue);
    if (winner !== requested) throw error;
  });
  return requested;
}

/** KV keys of one queue's partition ownership. */
export const ownershipKeys = {
  lease: (queue: string, partition: number) => `${queue}.owner.${partition}`,
  member: (queue: string, workerId: string) => `${queue}.member.${workerId}`,
  members: (queue: string) => `${queue}.member.*`,
};

/**
 * Where a producer publishes keyed jobs: the partition count of each queue, read once from the
 * keyed bucket (it never changes once set).
 */
export class KeyedRouting {
  readonly #partitions = new Map<string, Promise<number>>();
  #kv: Promise<KV> | undefined;

  constructor(
    private readonly kvm: Kvm,
    private readonly subjects: Subjects,
  ) {}

  /** The subject of a job with `key`; refuses a queue that takes no keyed jobs. */
  async subject(queue: string, name: string, key: string): Promise<string> {
    const partitions = await this.#partitionsOf(queue);
    if (partitions === 0) {
      throw new JetmeshError(
        "INVALID_OPTIONS",
        `queue "${queue}" takes no keyed jobs: declare it with keyPartitions (e.g. 16) to enqueue with a key`,
      );
    }
    return keyedSubject(this.subjects, queue, partitionOf(key, partitions), name);
  }

  #partitionsOf(queue: string): Promise<number> {
    let known = this.#partitions.get(queue);
    if (known === undefined) {
      this.#kv ??= this.kvm.open(keyedBucket(this.subjects));
      known = this.#kv.then((kv) => readKeyPartitions(kv, queue));
      // Only a count in force is kept: a queue may be declared keyed after a refused enqueue.
      known.then(
        (count) => count === 0 && this.#partitions.delete(queue),
        () => this.#partitions.delete(queue),
      );
      this.#partitions.set(queue, known);
    }
    return known;
  }
}
