// The one place that knows how a queue maps onto JetStream: its WorkQueue stream, the durable
// pull consumer its workers share, the mesh's dead-letter stream and the attempts bucket.
import {
  AckPolicy,
  type ConsumerConfig,
  type ConsumerInfo,
  DeliverPolicy,
  DiscardPolicy,
  JetStreamApiError,
  type JetStreamManager,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
} from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { millis, type NatsConnection, nanos } from "@nats-io/transport-node";
import { JetmeshError, QueueNotFoundError } from "../errors.ts";
import { keyedFilter, openKeyedBucket, settleKeyPartitions } from "../keyed/partitions.ts";
import { limitsBucket, permitsBucket } from "../limits/rate.ts";
import { ensureResultBuckets } from "../results/buckets.ts";
import { controlBucket } from "../wire/control.ts";
import type { Subjects } from "../wire/subjects.ts";

/** Settings of one queue; every field has a default (docs/configuration.md, "Queues"). */
export interface QueueOptions {
  /** Stream replicas (1, 3 or 5). @default 1 */
  replicas?: number;
  /** Most jobs the queue holds; further enqueues fail with QueueFullError. -1 = unlimited. @default -1 */
  maxJobs?: number;
  /** Most bytes the queue holds; further enqueues fail with QueueFullError. -1 = unlimited. @default -1 */
  maxBytes?: number;
  /** Largest job message (payload + headers) in bytes; -1 = the server's max_payload less 8 KiB of dead-letter headroom. */
  maxJobBytes?: number;
  /** Fleet-wide limit of jobs in flight at once (the consumer's MaxAckPending). @default 1000 */
  concurrency?: number;
  /** How long a worker may stay silent about a job before it is redelivered (the lease). @default 30000 */
  ackWaitMs?: number;
  /** Attempts before a job is dead-lettered; the ceiling for per-job settings. @default 5 */
  maxAttempts?: number;
  /** Window in which an enqueue with the same job id is de-duplicated. @default 120000 */
  duplicateWindowMs?: number;
  /** Where the stream is stored. @default "file" */
  storage?: "file" | "memory";
  /**
   * Partitions for keyed jobs (docs/keyed-jobs.md); 0 takes no keyed jobs. Fixed once non-zero.
   * @default the count already in force, else 0
   */
  keyPartitions?: number;
}

export const QUEUE_DEFAULTS: Required<Omit<QueueOptions, "keyPartitions">> = {
  replicas: 1,
  maxJobs: -1,
  maxBytes: -1,
  maxJobBytes: -1,
  concurrency: 1000,
  ackWaitMs: 30_000,
  maxAttempts: 5,
  duplicateWindowMs: 120_000,
  storage: "file",
};

/** Room kept between a job's size limit and the server's max_payload for dead-letter headers. */
export const DEAD_LETTER_HEADROOM_BYTES = 8 * 1024;

/**
 * Deliveries the server allows beyond maxAttempts: the first lets a worker dead-letter a job whose
 * every attempt crashed its process; the second covers a crash during that dead-lettering.
 */
export const SPARE_DELIVERIES = 2;

const DEAD_LETTER_MAX_AGE_MS = 14 * 24 * 3600_000;
const ATTEMPTS_TTL_MS = 7 * 24 * 3600_000;

/** What a worker needs to know about a queue, read back from the server (the truth). */
export interface QueueSettings {
  queue: string;
  stream: string;
  consumer: string;
  ackWaitMs: number;
  maxAttempts: number;
  concurrency: number;
}

export function attemptsBucket(subjects: Subjects): string {
  return `${subjects.prefix}_attempts`;
}

function resolve(options: QueueOptions): Required<Omit<QueueOptions, "keyPartitions">> {
  const resolved = { ...QUEUE_DEFAULTS, ...options };
  for (const key of ["concurrency", "ackWaitMs", "maxAttempts", "duplicateWindowMs"] as const) {
    if (!Number.isSafeInteger(resolved[key]) || resolved[key] < 1) {
      throw new JetmeshError(
        "INVALID_OPTIONS",
        `queue option ${key} must be a positive integer, got ${resolved[key]}`,
      );
    }
  }
  if (![1, 3, 5].includes(resolved.replicas)) {
    throw new JetmeshError(
      "INVALID_OPTIONS",
      `queue option replicas must be 1, 3 or 5, got ${resolved.replicas}`,
    );
  }
  return resolved;
}

/**
 * Creates the queue's stream and consumer, or brings existing ones to the given settings.
 * Idempotent: declaring the same queue twice changes nothing.
 */
export async function declareQueue(
  nc: NatsConnection,
  jsm: JetStreamManager,
  subjects: Subjects,
  queue: string,
  options: QueueOptions = {},
): Promise<QueueSettings> {
  const settings = resolve(options);
  const stream = subjects.queueStream(queue);
  const maxJobBytes =
    settings.maxJobBytes > 0
      ? settings.maxJobBytes
      : (nc.info?.max_payload ?? 1024 * 1024) - DEAD_LETTER_HEADROOM_BYTES;
  const kvm = new Kvm(nc);
  const keyPartitions = await settleKeyPartitions(
    await openKeyedBucket(kvm, subjects, settings.replicas),
    queue,
    options.keyPartitions,
  );
  const streamConfig: Partial<StreamConfig> & { name: string } = {
    name: stream,
    subjects: [subjects.queueFilter(queue), ...(keyPartitions > 0 ? [keyedFilter(subjects, queue)] : [])],
    retention: RetentionPolicy.Workqueue,
    discard: DiscardPolicy.New,
    storage: settings.storage === "memory" ? StorageType.Memory : StorageType.File,
    num_replicas: settings.replicas,
    max_msgs: settings.maxJobs,
    max_bytes: settings.maxBytes,
    max_msg_size: maxJobBytes,
    duplicate_window: nanos(settings.duplicateWindowMs),
  };
  await upsertStream(jsm, streamConfig);
  await ensureDeadLetterStream(jsm, subjects, settings.replicas);
  await ensureDelayStore(jsm, subjects, settings.replicas);
  await kvm.create(attemptsBucket(subjects), {
    history: 1,
    ttl: ATTEMPTS_TTL_MS,
    replicas: settings.replicas,
  });
  await kvm.create(controlBucket(subjects.prefix), { history: 5, replicas: settings.replicas });
  await ensureResultBuckets(nc, subjects, settings.replicas);
  await kvm.create(limitsBucket(subjects.prefix), { history: 5, replicas: settings.replicas });
  await kvm.create(permitsBucket(subjects.prefix), { history: 1, replicas: settings.replicas });

  const consumerConfig: Partial<ConsumerConfig> & { durable_name: string } = {
    durable_name: subjects.queueConsumer(),
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(settings.ackWaitMs),
    max_deliver: settings.maxAttempts + SPARE_DELIVERIES,
    max_ack_pending: settings.concurrency,
    max_waiting: 512,
    filter_subject: subjects.queueFilter(queue),
  };
  const info = await upsertConsumer(jsm, stream, consumerConfig);
  return settingsFromConsumer(queue, info);
}

async function upsertStream(
  jsm: JetStreamManager,
  config: Partial<StreamConfig> & { name: string },
): Promise<void> {
  const name = config.name;
  try {
    await jsm.streams.info(name);
  } catch (error) {
    if (!isNotFound(error)) throw error;
    await jsm.streams.add(config);
    return;
  }
  await jsm.streams.update(name, config);
}

async function upsertConsumer(
  jsm: JetStreamManager,
  stream: string,
  config: Partial<ConsumerConfig> & { durable_name: string },
): Promise<ConsumerInfo> {
  const name = config.durable_name;
  try {
    await jsm.consumers.info(stream, name);
  } catch (error) {
    if (!isNotFound(error)) throw error;
    return jsm.consumers.add(stream, config);
  }
  return jsm.consumers.update(stream, name, config);
}

export async function ensureDeadLetterStream(
  jsm: JetStreamManager,
  subjects: Subjects,
  replicas = 1,
): Promise<void> {
  await createIfMissing(jsm, {
    name: subjects.deadLetterStream(),
    subjects: [subjects.deadLetterFilter()],
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    storage: StorageType.File,
    num_replicas: replicas,
    max_age: nanos(DEAD_LETTER_MAX_AGE_MS),
    duplicate_window: nanos(120_000),
  });
}

/**
 * The delay store (runtime/scheduling/delay-store.ts): delayed jobs and long retry waits of every
 * queue, filed by due second, until the scheduler moves them to their queues.
 */
export async function ensureDelayStore(
  jsm: JetStreamManager,
  subjects: Subjects,
  replicas = 1,
): Promise<void> {
  await createIfMissing(jsm, {
    name: subjects.delayedStream(),
    subjects: [`${subjects.prefix}.delayed.>`],
    // Limits, not WorkQueue: the scheduler reads one second's jobs through short-lived filtered
    // consumers (which WorkQueue would forbid to overlap) and deletes each job once its queue
    // has stored it.
    retention: RetentionPolicy.Limits,
    // A full store refuses new delayed jobs rather than dropping waiting ones.
    discard: DiscardPolicy.New,
    storage: StorageType.File,
    num_replicas: replicas,
    allow_direct: true,
    duplicate_window: nanos(120_000),
  });
}

/** Creates a stream the mesh shares (not a queue's) when it is missing; an existing one is left as it is. */
async function createIfMissing(
  jsm: JetStreamManager,
  config: Partial<StreamConfig> & { name: string },
): Promise<void> {
  try {
    await jsm.streams.info(config.name);
  } catch (error) {
    if (!isNotFound(error)) throw error;
    await jsm.streams.add(config);
  }
}

/** Reads a declared queue's settings; a missing stream or consumer is an error, never auto-created. */
export async function readQueueSettings(
  jsm: JetStreamManager,
  subjects: Subjects,
  queue: string,
): Promise<QueueSettings> {
  try {
    const info = await jsm.consumers.info(subjects.queueStream(queue), subjects.queueConsumer());
    return settingsFromConsumer(queue, info);
  } catch (error) {
    if (isNotFound(error)) throw new QueueNotFoundError(queue);
    throw error;
  }
}

function settingsFromConsumer(queue: string, info: ConsumerInfo): QueueSettings {
  return {
    queue,
    stream: info.stream_name,
    consumer: info.name,
    ackWaitMs: millis(info.config.ack_wait ?? nanos(QUEUE_DEFAULTS.ackWaitMs)),
    maxAttempts: Math.max(1, (info.config.max_deliver ?? 0) - SPARE_DELIVERIES),
    concurrency: info.config.max_ack_pending ?? QUEUE_DEFAULTS.concurrency,
  };
}

export function isNotFound(error: unknown): boolean {
  if (error instanceof JetStreamApiError)
    return error.status === 404 || error.code === 10059 || error.code === 10014;
  return false;
}
