// Queue facts of a queue's keyed jobs (docs/keyed-jobs.md): they share the queue's stream but not
// its `workers` consumer, so what that consumer reports leaves them out. A partition is read through
// a consumer only while a worker owns it; a partition nobody has taken has no consumer at all, so
// its waiting jobs are counted from the stream's per-subject state rather than summed over
// consumers.
import type { ConsumerInfo, StreamInfo } from "@nats-io/jetstream";
import { keyedFilter, partitionFilter } from "../../runtime/index.ts";
import type { Mesh } from "../mesh.ts";

/** The keyed part of a queue's figures; the unkeyed part comes from the `workers` consumer. */
export interface KeyedFacts {
  /** Keyed jobs in the stream: waiting plus held by partition owners. */
  jobs: number;
  /** Keyed jobs no owner holds yet: the partitions' messages minus their owners' unacknowledged ones. */
  pending: number;
  /** Keyed jobs held by an owner: running, or waiting behind their key under lease (num_ack_pending). */
  inFlight: number;
  redelivered: number;
  /** Sum of the partition consumers' max_ack_pending (the partition windows). */
  maxInFlight: number;
  /** Partitions read through a consumer: taken by a worker (a dead owner's stays until one takes over). */
  ownedPartitions: number;
  /** Keyed jobs waiting in partitions that have no consumer, which no worker will run until one takes them. */
  unowned: number;
  /** Stream sequence of the oldest keyed job no owner holds (docs/keyed-jobs.md#operator-views), null when none. */
  oldestWaitingSeq: number | null;
}

interface Partition {
  jobs: number;
  consumers: ConsumerInfo[];
}

/** Keyed facts of a queue, undefined when its stream takes no keyed jobs (costs nothing then). */
export async function readKeyedFacts(
  mesh: Mesh,
  queue: string,
  info: StreamInfo,
): Promise<KeyedFacts | undefined> {
  const filter = keyedFilter(mesh.subjects, queue);
  if (!(info.config.subjects ?? []).includes(filter)) return undefined;
  const stream = info.config.name;
  const partitionOfSubject = partitionReader(mesh, queue);
  const [bySubject, consumers] = await Promise.all([
    mesh.jsm.streams.info(stream, { subjects_filter: filter }).then((i) => i.state.subjects ?? {}),
    listConsumers(mesh, stream),
  ]);
  const partitions = new Map<number, Partition>();
  const partition = (p: number): Partition => {
    let found = partitions.get(p);
    if (found === undefined) {
      found = { jobs: 0, consumers: [] };
      partitions.set(p, found);
    }
    return found;
  };
  for (const [subject, count] of Object.entries(bySubject)) {
    const p = partitionOfSubject(subject);
    if (p !== undefined) partition(p).jobs += count;
  }
  for (const consumer of consumers) {
    const p = partitionOfSubject(consumer.config.filter_subject ?? "");
    if (p !== undefined) partition(p).consumers.push(consumer);
  }
  const facts: KeyedFacts = {
    jobs: 0,
    pending: 0,
    inFlight: 0,
    redelivered: 0,
    maxInFlight: 0,
    ownedPartitions: 0,
    unowned: 0,
    oldestWaitingSeq: null,
  };
  // The partition whose first waiting job may be the oldest: the lowest sequence any could start at.
  let candidate: { partition: number; from: number; unowned: boolean } | undefined;
  for (const [p, { jobs, consumers: held }] of partitions) {
    facts.jobs += jobs;
    const ackPending = sum(held, (c) => c.num_ack_pending);
    facts.inFlight += ackPending;
    facts.redelivered += sum(held, (c) => c.num_redelivered);
    facts.maxInFlight += sum(held, (c) => c.config.max_ack_pending ?? 0);
    if (held.length > 0) facts.ownedPartitions++;
    // A work queue keeps a job until it is acknowledged: what the owner does not hold waits.
    const waiting = Math.max(0, jobs - ackPending);
    facts.pending += waiting;
    if (held.length === 0) facts.unowned += waiting;
    if (waiting === 0) continue;
    const from =
      held.length === 0
        ? info.state.first_seq
        : Math.min(...held.map((c) => c.delivered.stream_seq + 1), Number.MAX_SAFE_INTEGER);
    if (candidate === undefined || from < candidate.from)
      candidate = { partition: p, from, unowned: held.length === 0 };
  }
  if (candidate !== undefined) {
    const next = (seq: number, subjects: string) =>
      mesh.jsm.streams
        .getMessage(stream, { seq, next_by_subj: subjects } as unknown as { seq: number })
        .catch(() => null);
    let first: Awaited<ReturnType<typeof next>> = null;
    if (candidate.unowned) {
      // The oldest keyed job, when it lies in a partition without owner, is the oldest waiting
      // one: one request covers every such partition.
      const oldest = await next(info.state.first_seq, filter);
      const p = oldest === null ? undefined : partitionOfSubject(oldest.subject);
      if (p !== undefined && partitions.get(p)?.consumers.length === 0) first = oldest;
    }
    first ??= await next(candidate.from, partitionFilter(mesh.subjects, queue, candidate.partition));
    facts.oldestWaitingSeq = first?.seq ?? null;
  }
  return facts;
}

async function listConsumers(mesh: Mesh, stream: string): Promise<ConsumerInfo[]> {
  const found: ConsumerInfo[] = [];
  for await (const consumer of mesh.jsm.consumers.list(stream)) found.push(consumer);
  return found;
}

/** The partition of a keyed subject or partition filter of `queue` (`<prefix>.keyed.<queue>.<p>.…`). */
function partitionReader(mesh: Mesh, queue: string): (subject: string) => number | undefined {
  const prefix = `${mesh.subjects.prefix}.keyed.${queue}.`;
  return (subject) => {
    if (!subject.startsWith(prefix)) return undefined;
    const digits = subject.slice(prefix.length).split(".", 1)[0] ?? "";
    return /^\d+$/.test(digits) ? Number(digits) : undefined;
  };
}

function sum<T>(items: readonly T[], value: (item: T) => number): number {
  let total = 0;
  for (const item of items) total += value(item);
  return total;
}
