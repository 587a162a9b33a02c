// Queue facts from JetStream itself (stream and consumer info, dead-letter counts, the oldest
// job), plus rates derived from samples this replica keeps over a sliding window.
import type { StreamInfo } from "@nats-io/jetstream";
import { Header } from "../../runtime/index.ts";
import type { QueueFacts, QueueRates } from "../api/protocol.ts";
import { isNotFound, type Mesh } from "../mesh.ts";
import { readKeyedFacts } from "./keyed-stats.ts";

/** What the metrics export of a queue: its facts plus what the API does not show. */
export interface QueueSnapshot extends QueueFacts {
  /** When these facts were read. */
  at: number;
  /** Enqueue time of the oldest job not yet handed to a worker, null when none waits. */
  oldestWaitingAt: number | null;
  /** The stream's last sequence: one per job ever stored in the queue. */
  lastSeq: number;
}

export interface QueueSample {
  at: number;
  /** The stream's last sequence: grows by one per stored job. */
  lastSeq: number;
  backlog: number;
  pending: number;
}

/** Rates need samples at least this far apart to mean anything. */
const MIN_RATE_SPAN_MS = 1000;

/** Rates from samples alone; the trend against the stream's limits is added by withTrend. */
export type SampledRates = Omit<QueueRates, "timeToDrainMs" | "timeToFullMs">;

/** Rates between the oldest and newest sample; null when they are too close together. */
export function ratesFrom(samples: readonly QueueSample[]): SampledRates | null {
  const first = samples[0];
  const last = samples.at(-1);
  if (first === undefined || last === undefined) return null;
  const spanMs = last.at - first.at;
  if (spanMs < MIN_RATE_SPAN_MS) return null;
  const seconds = spanMs / 1000;
  const enqueued = Math.max(0, last.lastSeq - first.lastSeq);
  const growth = last.backlog - first.backlog;
  const processed = Math.max(0, enqueued - growth);
  const growthPerSec = growth / seconds;
  return {
    pendingGrowthPerSec: round((last.pending - first.pending) / seconds),
    windowMs: spanMs,
    enqueuedPerSec: round(enqueued / seconds),
    processedPerSec: round(processed / seconds),
    growthPerSec: round(growthPerSec),
    timeToEmptyMs:
      growthPerSec < 0 && last.backlog > 0 ? Math.round((last.backlog / -growthPerSec) * 1000) : null,
  };
}

/**
 * Adds the backlog trend to the rates: time to drain at the rate jobs leave, and time to full
 * against the stream's limits (max jobs, max bytes at the current mean job size) while it grows.
 */
export function withTrend(
  rates: SampledRates,
  state: { messages: number; bytes: number },
  limits: { max_msgs?: number; max_bytes?: number },
): QueueRates {
  const timeToDrainMs =
    rates.processedPerSec > 0 && state.messages > 0
      ? Math.round((state.messages / rates.processedPerSec) * 1000)
      : null;
  let timeToFullMs: number | null = null;
  if (rates.growthPerSec > 0) {
    const untilFull: number[] = [];
    if ((limits.max_msgs ?? -1) > 0)
      untilFull.push(((limits.max_msgs as number) - state.messages) / rates.growthPerSec);
    const meanBytes = state.messages > 0 ? state.bytes / state.messages : 0;
    if ((limits.max_bytes ?? -1) > 0 && meanBytes > 0)
      untilFull.push(((limits.max_bytes as number) - state.bytes) / (rates.growthPerSec * meanBytes));
    if (untilFull.length > 0) timeToFullMs = Math.max(0, Math.round(Math.min(...untilFull) * 1000));
  }
  return { ...rates, timeToDrainMs, timeToFullMs };
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

export class QueueStats {
  readonly #samples = new Map<string, QueueSample[]>();
  #latest = new Map<string, QueueSnapshot>();
  readonly #now: () => number;

  constructor(
    private readonly mesh: Mesh,
    private readonly options: { rateWindowMs: number; now?: () => number },
  ) {
    this.#now = options.now ?? Date.now;
  }

  /** The queues of this mesh: streams named and bound the way queue declaration makes them. */
  async streams(): Promise<Map<string, StreamInfo>> {
    const { subjects } = this.mesh;
    const found = new Map<string, StreamInfo>();
    const jobPrefix = `${subjects.prefix}.q.`;
    for await (const info of this.mesh.jsm.streams.list()) {
      for (const subject of info.config.subjects ?? []) {
        if (!subject.startsWith(jobPrefix) || !subject.endsWith(".>")) continue;
        const queue = subject.slice(jobPrefix.length, -2);
        if (queue.includes(".") || queue.length === 0) continue;
        if (info.config.name === `${subjects.prefix}_q_${queue}`) found.set(queue, info);
      }
    }
    return new Map([...found].sort(([a], [b]) => a.localeCompare(b)));
  }

  async queueNames(): Promise<string[]> {
    return [...(await this.streams()).keys()];
  }

  /** Facts of every queue (or of the given ones), sampled now. */
  async collect(only?: readonly string[]): Promise<QueueFacts[]> {
    const streams = await this.streams();
    const queues = only === undefined ? [...streams.keys()] : only.filter((queue) => streams.has(queue));
    const dead = await this.deadLetterCounts();
    const snapshots = await Promise.all(
      queues.map((queue) => this.#facts(queue, streams.get(queue) as StreamInfo, dead.get(queue) ?? 0)),
    );
    if (only === undefined) this.#latest = new Map();
    for (const snapshot of snapshots) this.#latest.set(snapshot.queue, snapshot);
    return snapshots.map(({ at: _at, oldestWaitingAt: _oldest, lastSeq: _seq, ...facts }) => facts);
  }

  /** The facts of every queue as last read (by the sampling tick or a request); no JetStream call. */
  latest(): QueueSnapshot[] {
    return [...this.#latest.values()];
  }

  /** Samples every queue once (the service calls this on a timer so rates have history). */
  async sample(): Promise<void> {
    await this.collect();
  }

  /** Dead letters per queue, from the subjects the dead-letter stream holds. */
  async deadLetterCounts(): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    const { subjects } = this.mesh;
    let bySubject: Record<string, number> = {};
    try {
      const info = await this.mesh.jsm.streams.info(subjects.deadLetterStream(), {
        subjects_filter: subjects.deadLetterFilter(),
      });
      bySubject = info.state.subjects ?? {};
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
    const prefix = `${subjects.prefix}.dlq.`;
    for (const [subject, count] of Object.entries(bySubject)) {
      const queue = subject.slice(prefix.length).split(".", 1)[0] ?? "";
      counts.set(queue, (counts.get(queue) ?? 0) + count);
    }
    return counts;
  }

  async #facts(queue: string, info: StreamInfo, dead: number): Promise<QueueSnapshot> {
    const { jsm, subjects } = this.mesh;
    const now = this.#now();
    // The listing was just read: its state is as fresh as a second request would be.
    const { state } = info;
    const [consumer, keyed] = await Promise.all([
      jsm.consumers.info(info.config.name, subjects.queueConsumer()).catch((error: unknown) => {
        if (isNotFound(error)) return undefined;
        throw error;
      }),
      readKeyedFacts(this.mesh, queue, info),
    ]);
    const unkeyedPending = consumer?.num_pending ?? state.messages - (keyed?.jobs ?? 0);
    const pending = unkeyedPending + (keyed?.pending ?? 0);
    const oldestJobAt = state.messages > 0 ? await this.#enqueuedAt(info.config.name, state.first_seq) : null;
    // Jobs after the consumer's delivered sequence were never handed out; in a work queue the
    // first of them is the oldest waiting job (unless it was deleted: then the oldest job bounds it).
    const firstWaiting = [
      unkeyedPending > 0 ? Math.max(state.first_seq, (consumer?.delivered.stream_seq ?? 0) + 1) : null,
      keyed?.oldestWaitingSeq ?? null,
    ].filter((seq): seq is number => seq !== null);
    const oldestSeq = firstWaiting.length === 0 ? null : Math.min(...firstWaiting);
    const oldestWaitingAt =
      oldestSeq === null
        ? null
        : oldestSeq === state.first_seq
          ? oldestJobAt
          : ((await this.#enqueuedAt(info.config.name, oldestSeq)) ?? oldestJobAt);
    const recorded = this.#record(queue, {
      at: now,
      lastSeq: state.last_seq,
      backlog: state.messages,
      pending,
    });
    const rates = recorded === null ? null : withTrend(recorded, state, info.config);
    const facts: QueueSnapshot = {
      at: now,
      oldestWaitingAt,
      lastSeq: state.last_seq,
      queue,
      stream: info.config.name,
      backlog: state.messages,
      pending,
      inFlight: (consumer?.num_ack_pending ?? 0) + (keyed?.inFlight ?? 0),
      redelivered: (consumer?.num_redelivered ?? 0) + (keyed?.redelivered ?? 0),
      dead,
      maxInFlight: (consumer?.config.max_ack_pending ?? 0) + (keyed?.maxInFlight ?? 0),
      oldestJobAt,
      oldestJobAgeMs: oldestJobAt === null ? null : Math.max(0, now - oldestJobAt),
      rates,
    };
    if (keyed !== undefined) {
      facts.keyed = {
        jobs: keyed.jobs,
        pending: keyed.pending,
        inFlight: keyed.inFlight,
        ownedPartitions: keyed.ownedPartitions,
        unowned: keyed.unowned,
      };
    }
    return facts;
  }

  /** Enqueue time of the job at a sequence (its store time without the header), null if it is gone. */
  async #enqueuedAt(stream: string, seq: number): Promise<number | null> {
    const message = await this.mesh.jsm.streams.getMessage(stream, { seq }).catch(() => null);
    if (message === null) return null;
    const enqueuedAt = Number(message.header?.get(Header.EnqueuedAt));
    return Number.isFinite(enqueuedAt) && enqueuedAt > 0 ? enqueuedAt : message.time.getTime();
  }

  /** Adds a sample and returns the rates over the window, keeping one sample older than it. */
  #record(queue: string, sample: QueueSample): SampledRates | null {
    const samples = this.#samples.get(queue) ?? [];
    samples.push(sample);
    samples.sort((a, b) => a.at - b.at);
    const windowStart = sample.at - this.options.rateWindowMs;
    while (samples.length > 2 && (samples[1]?.at ?? 0) <= windowStart) samples.shift();
    this.#samples.set(queue, samples);
    return ratesFrom(samples);
  }
}
