// Keeps the last outcome of recent jobs (completed, retrying, dead, cancelled) in a KV bucket,
// fed from lifecycle events, so a job lookup can say "completed at T" after the job has left
// its queue. Best effort by design: events are core NATS (a replica that is down misses them),
// replicas share the work through a queue group, writes beyond a bounded backlog are dropped,
// and the bucket keeps records for a limited time and size (oldest dropped first). Each event of a
// job's attempts is also kept as a timeline step (`<jobKey>.t.<attempt>.<event>`): plain puts,
// no read-modify-write, so replicas sharing the events never race.
import { DiscardPolicy } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import type { Subscription } from "@nats-io/transport-node";
import type { Logger } from "pino";
import {
  jobKey,
  type LifecycleEvent,
  type LifecycleEventType,
  parseLifecycleEvents,
} from "../../runtime/index.ts";
import { API_QUEUE_GROUP } from "../api/protocol.ts";
import type { Mesh } from "../mesh.ts";
import { kvStream, kvSubject, outcomesBucket } from "../names.ts";

export type OutcomeType = "completed" | "retrying" | "dead" | "cancelled";
const RECORDED: readonly OutcomeType[] = ["completed", "retrying", "dead", "cancelled"];
/** Events kept as timeline steps: every one that starts or ends an attempt or a wait. */
const STEPS: readonly LifecycleEventType[] = ["started", "failed", ...RECORDED];

/** One event of a job's timeline, as kept (docs/insight.md, "Job timeline"). */
export interface TimelineStep {
  type: LifecycleEventType;
  attempt: number;
  at: number;
  durationMs?: number;
  waitMs?: number;
  retryInMs?: number;
}

export interface OutcomeRecord {
  type: OutcomeType;
  jobId: string;
  queue: string;
  name: string;
  attempt: number;
  workerId: string;
  at: number;
  durationMs?: number;
  retryInMs?: number;
  error?: { class: string; message: string; kind: string };
}

export interface OutcomeRecorderOptions {
  /** How long a record is kept. */
  ttlMs: number;
  /** Most bytes the bucket keeps; the oldest records go first. */
  maxBytes: number;
  replicas: number;
  /** Writes in flight beyond which new outcomes are dropped (counted in `dropped`). */
  maxInFlight: number;
}

export class OutcomeRecorder {
  #kv: KV | undefined;
  #subscriptions: Subscription[] = [];
  #inFlight = 0;
  #dropped = 0;
  #recorded = 0;

  constructor(
    private readonly mesh: Mesh,
    private readonly logger: Logger,
    private readonly options: OutcomeRecorderOptions,
  ) {}

  get stats(): { recorded: number; dropped: number } {
    return { recorded: this.#recorded, dropped: this.#dropped };
  }

  async start(): Promise<void> {
    this.#kv = await this.#bucket();
    for (const type of STEPS) {
      this.#subscriptions.push(
        this.mesh.nc.subscribe(this.mesh.subjects.eventFilter("*", type), {
          queue: API_QUEUE_GROUP,
          callback: (_error, msg) => {
            for (const event of parseLifecycleEvents(msg.data)) this.#record(event);
          },
        }),
      );
    }
  }

  stop(): void {
    for (const subscription of this.#subscriptions) subscription.unsubscribe();
    this.#subscriptions = [];
  }

  /** The last recorded outcome of a job, if the bucket still has it. */
  async read(jobId: string): Promise<OutcomeRecord | undefined> {
    const kv = this.#kv ?? (await this.#existingBucket());
    if (kv === undefined) return undefined;
    try {
      const entry = await kv.get(jobKey(jobId));
      if (entry === null || entry.operation !== "PUT" || entry.length === 0) return undefined;
      return entry.json<OutcomeRecord>();
    } catch {
      return undefined;
    }
  }

  /** The timeline steps still kept for a job, by attempt and time. */
  async readSteps(jobId: string): Promise<TimelineStep[]> {
    const bucket = outcomesBucket(this.mesh.prefix);
    const prefix = kvSubject(bucket, `${jobKey(jobId)}.t.`);
    let subjects: string[];
    try {
      const info = await this.mesh.jsm.streams.info(kvStream(bucket), { subjects_filter: `${prefix}>` });
      subjects = Object.keys(info.state.subjects ?? {}).filter((s) =>
        /^\d+\.[a-z]+$/.test(s.slice(prefix.length)),
      );
    } catch {
      return [];
    }
    const messages = await Promise.all(
      subjects.map((subject) =>
        this.mesh.jsm.streams.getMessage(kvStream(bucket), { last_by_subj: subject }).catch(() => null),
      ),
    );
    const steps: TimelineStep[] = [];
    for (const msg of messages) {
      if (msg === null || msg.data.length === 0) continue;
      try {
        steps.push(msg.json<TimelineStep>());
      } catch {
        // not a step: ignored
      }
    }
    return steps.sort((a, b) => a.attempt - b.attempt || a.at - b.at);
  }

  #record(event: LifecycleEvent): void {
    const kv = this.#kv;
    if (kv === undefined || typeof event.jobId !== "string" || !STEPS.includes(event.type)) return;
    this.#step(kv, event);
    if (!RECORDED.includes(event.type as OutcomeType)) return;
    if (this.#inFlight >= this.options.maxInFlight) {
      if (this.#dropped++ % 1000 === 0)
        this.logger.warn({ dropped: this.#dropped }, "outcome record backlog full; dropping outcomes");
      return;
    }
    const record: OutcomeRecord = {
      type: event.type as OutcomeType,
      jobId: event.jobId,
      queue: event.queue,
      name: event.name,
      attempt: event.attempt,
      workerId: event.workerId,
      at: event.at,
    };
    if (event.durationMs !== undefined) record.durationMs = event.durationMs;
    if (event.retryInMs !== undefined) record.retryInMs = event.retryInMs;
    if (event.error !== undefined) record.error = event.error;
    this.#inFlight++;
    kv.put(jobKey(event.jobId), JSON.stringify(record))
      .then(() => {
        this.#recorded++;
      })
      .catch((error: unknown) => {
        this.#dropped++;
        this.logger.debug({ err: error, jobId: event.jobId }, "outcome not recorded");
      })
      .finally(() => {
        this.#inFlight--;
      });
  }

  #step(kv: KV, event: LifecycleEvent): void {
    // Steps stop at half the write budget, so under load outcomes (what lookups need most) still get through.
    if (this.#inFlight >= this.options.maxInFlight / 2 || !Number.isSafeInteger(event.attempt)) return;
    const step: TimelineStep = { type: event.type, attempt: event.attempt, at: event.at };
    if (event.durationMs !== undefined) step.durationMs = event.durationMs;
    if (event.waitMs !== undefined) step.waitMs = event.waitMs;
    if (event.retryInMs !== undefined) step.retryInMs = event.retryInMs;
    this.#inFlight++;
    kv.put(`${jobKey(event.jobId)}.t.${event.attempt}.${event.type}`, JSON.stringify(step))
      .catch((error: unknown) => {
        this.logger.debug({ err: error, jobId: event.jobId }, "timeline step not recorded");
      })
      .finally(() => {
        this.#inFlight--;
      });
  }

  async #existingBucket(): Promise<KV | undefined> {
    const name = outcomesBucket(this.mesh.prefix);
    if (!(await this.mesh.streamExists(kvStream(name)))) return undefined;
    return this.mesh.kvm.open(name);
  }

  async #bucket(): Promise<KV> {
    const name = outcomesBucket(this.mesh.prefix);
    const stream = kvStream(name);
    if (!(await this.mesh.streamExists(stream))) {
      try {
        await this.mesh.kvm.create(name, {
          history: 1,
          ttl: this.options.ttlMs,
          max_bytes: this.options.maxBytes,
          replicas: this.options.replicas,
        });
        this.logger.info({ bucket: name }, "created the outcomes bucket");
      } catch (error) {
        // Another replica may have created it a moment ago.
        if (!(await this.mesh.streamExists(stream))) throw error;
      }
    }
    // KV buckets refuse writes when full; recent outcomes should push out the oldest instead.
    const info = await this.mesh.jsm.streams.info(stream);
    if (info.config.discard !== DiscardPolicy.Old)
      await this.mesh.jsm.streams.update(stream, { ...info.config, discard: DiscardPolicy.Old });
    return this.mesh.kvm.open(name);
  }
}
