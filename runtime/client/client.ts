// The producer API: declare queues, enqueue jobs (one at a time or pipelined in bulk, optionally
// unique by key), and wait for their results.
import { JetStreamApiError, type JetStreamManager, jetstreamManager, type PubAck } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import type { MsgHdrs, NatsConnection } from "@nats-io/transport-node";
import { JetmeshError, PayloadTooLargeError, QueueFullError, QueueNotFoundError } from "../errors.ts";
import { AckedPublisher } from "../jetstream/acked-publisher.ts";
import { type ConnectionSettings, connectionSettingsFromEnv, connectNats } from "../jetstream/connection.ts";
import {
  declareQueue,
  type QueueOptions,
  type QueueSettings,
  readQueueSettings,
} from "../jetstream/queues.ts";
import { assertKey, KeyedRouting } from "../keyed/partitions.ts";
import { endSpan, startEnqueueSpan } from "../observability/tracing.ts";
import { resultsBucket, setResultRetention, uniqueBucket } from "../results/buckets.ts";
import type { JobState } from "../results/job-state.ts";
import { assertTimeout, JobStates } from "../results/job-states.ts";
import {
  assertUniqueOptions,
  UniqueClaims,
  type UniqueOptions,
  uniqueKeyHash,
} from "../results/unique-claims.ts";
import type { ScheduleSpec } from "../scheduling/schedule.ts";
import { type ScheduleChanges, ScheduleStore, type ScheduleView } from "../scheduling/schedule-store.ts";
import type { Encoding } from "../wire/codec.ts";
import { Header } from "../wire/headers.ts";
import { buildJobMessage } from "../wire/job-message.ts";
import { assertToken } from "../wire/names.ts";
import { Subjects } from "../wire/subjects.ts";
import { assertJobId, newJobId } from "./job-id.ts";

export interface ClientOptions {
  /** An open connection to use (the client will not close it), or settings to open one. */
  connection?: NatsConnection | ConnectionSettings;
  /** Subject prefix of the mesh. @default "jetmesh" */
  prefix?: string;
  /** Payload encoding for enqueue. @default "msgpack" */
  encoding?: Encoding;
  /** How long to wait for JetStream to acknowledge an enqueue. @default 5000 */
  publishTimeoutMs?: number;
}

export interface EnqueueOptions {
  /** A stable id makes the enqueue idempotent within the queue's duplicate window. @default random UUID */
  jobId?: string;
  encoding?: Encoding;
  /** At most the queue's maxAttempts. */
  maxAttempts?: number;
  timeoutMs?: number;
  /** Extra headers to carry with the job (e.g. trace context). */
  headers?: Record<string, string>;
  /** Start the job no earlier than this many ms from now; it waits in the delay store. */
  delay?: number;
  /** Start the job no earlier than this time (ms since epoch or a Date); a past time runs at once. */
  runAt?: number | Date;
  /**
   * At most one job per queue and key while it waits or runs, and for `windowMs` after this
   * enqueue: a duplicate returns the existing job's id with `duplicate: true`.
   */
  unique?: UniqueOptions;
  /** Record the job's state, progress and result for client.result() / client.jobState(). */
  result?: boolean;
  /**
   * Jobs with the same key run one at a time, in enqueue order; the queue must be declared with
   * keyPartitions (docs/keyed-jobs.md). Not with delay or runAt.
   */
  key?: string;
}

/** How long client.result() waits unless told otherwise. */
export const DEFAULT_RESULT_TIMEOUT_MS = 30_000;

export interface EnqueueResult {
  jobId: string;
  queue: string;
  name: string;
  /** Stream sequence of the stored job. */
  sequence: number;
  /**
   * True when nothing new was stored: JetStream already held a job with this id, or another job
   * holds the uniqueness key (then `jobId` is that job's id and `sequence` the sequence of its
   * enqueue, 0 while its producer is still publishing it).
   */
  duplicate: boolean;
  /** When the job is due, for a delayed job (then `sequence` is its place in the delay store). */
  dueAt?: number;
}

export interface JobToEnqueue {
  queue: string;
  name: string;
  payload?: unknown;
  options?: EnqueueOptions;
}

/** enqueueMany sends this many jobs, then awaits their acknowledgements before the next ones. */
const BULK_WINDOW = 1000;

export class JetmeshClient {
  readonly subjects: Subjects;
  readonly #publisher: AckedPublisher;
  readonly #jsm: JetStreamManager;
  readonly #ownsConnection: boolean;
  readonly #encoding: Encoding;
  /** Queues known to exist: a delayed job for a missing queue is refused at enqueue, not when due. */
  readonly #declared = new Map<string, Promise<unknown>>();
  readonly #keyed: KeyedRouting;

  private constructor(
    readonly nc: NatsConnection,
    jsm: JetStreamManager,
    ownsConnection: boolean,
    options: ClientOptions,
  ) {
    this.subjects = new Subjects(options.prefix);
    this.#jsm = jsm;
    this.#ownsConnection = ownsConnection;
    this.#encoding = options.encoding ?? "msgpack";
    this.#publisher = new AckedPublisher(nc, options.publishTimeoutMs ?? 5000);
    this.#keyed = new KeyedRouting(new Kvm(nc), this.subjects);
  }

  static async connect(options: ClientOptions = {}): Promise<JetmeshClient> {
    const given = options.connection;
    const ownsConnection = given === undefined || !("publish" in given);
    const nc = ownsConnection
      ? await connectNats((given as ConnectionSettings | undefined) ?? connectionSettingsFromEnv())
      : (given as NatsConnection);
    return new JetmeshClient(nc, await jetstreamManager(nc), ownsConnection, options);
  }

  /** Queue administration: declaring is explicit and idempotent. */
  readonly queues = {
    declare: (queue: string, options?: QueueOptions): Promise<QueueSettings> =>
      declareQueue(this.nc, this.#jsm, this.subjects, queue, options),
    settings: (queue: string): Promise<QueueSettings> => readQueueSettings(this.#jsm, this.subjects, queue),
  };

  #schedules: Promise<ScheduleStore> | undefined;

  #scheduleStore(): Promise<ScheduleStore> {
    this.#schedules ??= ScheduleStore.open(this.nc, this.subjects);
    return this.#schedules;
  }

  /**
   * Recurring schedules, stored in KV and fired by the control plane's scheduler
   * (docs/scheduling.md). Invalid schedules are refused with an InvalidScheduleError.
   */
  readonly schedules = {
    create: async (spec: ScheduleSpec): Promise<ScheduleView> => (await this.#scheduleStore()).create(spec),
    update: async (id: string, changes: ScheduleChanges): Promise<ScheduleView> =>
      (await this.#scheduleStore()).update(id, changes),
    pause: async (id: string): Promise<ScheduleView> => (await this.#scheduleStore()).pause(id),
    resume: async (id: string): Promise<ScheduleView> => (await this.#scheduleStore()).resume(id),
    delete: async (id: string): Promise<void> => (await this.#scheduleStore()).delete(id),
    get: async (id: string): Promise<ScheduleView> => (await this.#scheduleStore()).get(id),
    list: async (): Promise<ScheduleView[]> => (await this.#scheduleStore()).list(),
  };

  async enqueue(
    queue: string,
    name: string,
    payload?: unknown,
    options: EnqueueOptions = {},
  ): Promise<EnqueueResult> {
    const prepared = this.#prepare({ queue, name, payload, options });
    if (options.unique === undefined) return this.#publish(queue, name, prepared, options.key);
    // The key is claimed before the job exists, so racing producers cannot both publish.
    const claims = await this.#uniqueClaims();
    const claim = await claims.claim(queue, options.unique, prepared.jobId);
    if (claim.kind === "held")
      return { jobId: claim.jobId, queue, name, sequence: claim.sequence ?? 0, duplicate: true };
    let result: EnqueueResult;
    try {
      result = await this.#publish(queue, name, prepared, options.key);
    } catch (error) {
      if (wasRefused(error)) await claims.release(claim);
      throw error;
    }
    await claims.confirm(claim, result.sequence);
    return result;
  }

  async #publish(
    queue: string,
    name: string,
    prepared: PreparedJob,
    key: string | undefined,
  ): Promise<EnqueueResult> {
    const { jobId, data, headers, dueAt } = prepared;
    const subject = key === undefined ? prepared.subject : await this.#keyed.subject(queue, name, key);
    const delayed = dueAt !== undefined && dueAt > Date.now();
    if (delayed) await this.#assertDeclared(queue);
    if (delayed) headers.set(Header.Subject, subject);
    const target = delayed ? this.subjects.delayed(dueAt) : subject;
    const { span, headers: traceHeaders } = startEnqueueSpan(queue, name, jobId, subject);
    for (const [key, value] of Object.entries(traceHeaders)) headers.set(key, value);
    let ack: PubAck;
    try {
      headers.append(Header.MsgId, jobId);
      ack = await this.#publisher.publish(target, data, headers);
    } catch (error) {
      const explained = await this.#explainPublishError(error, queue, data.length);
      endSpan(span, explained);
      throw explained;
    }
    // After the publish, so no record names a job that was never stored; a create, so it never
    // overwrites what a fast worker recorded first. Never an error: the job is stored, and the
    // worker's records follow without this one.
    if (prepared.wantsResult)
      await this.#jobStates()
        .then((states) => states.recordWaiting({ jobId, queue, name, state: "waiting", at: Date.now() }))
        .catch(() => {});
    endSpan(span);
    const result: EnqueueResult = { jobId, queue, name, sequence: ack.seq, duplicate: ack.duplicate };
    if (delayed) result.dueAt = dueAt;
    return result;
  }

  #assertDeclared(queue: string): Promise<unknown> {
    let known = this.#declared.get(queue);
    if (known === undefined) {
      known = readQueueSettings(this.#jsm, this.subjects, queue);
      known.catch(() => this.#declared.delete(queue));
      this.#declared.set(queue, known);
    }
    return known;
  }

  /**
   * Enqueues many jobs with pipelined publishes, in windows of 1,000 whose acknowledgements are
   * awaited together (measured faster with this client than a sliding window). Results are in
   * input order; a failure rejects once its window has settled, and the later windows are not sent.
   */
  async enqueueMany(jobs: readonly JobToEnqueue[]): Promise<EnqueueResult[]> {
    const results: EnqueueResult[] = [];
    for (let start = 0; start < jobs.length; start += BULK_WINDOW) {
      const window = jobs.slice(start, start + BULK_WINDOW);
      results.push(
        ...(await Promise.all(
          window.map((job) => this.enqueue(job.queue, job.name, job.payload, job.options)),
        )),
      );
    }
    return results;
  }

  #prepare(job: JobToEnqueue): PreparedJob {
    this.subjects.validateJob(job.queue, job.name);
    const options = job.options ?? {};
    assertEnqueueOptions(options);
    if (options.unique !== undefined) assertUniqueOptions(options.unique);
    const jobId = options.jobId ?? newJobId();
    if (options.jobId !== undefined) assertJobId(jobId);
    const dueAt = dueTimeOf(options);
    if (options.key !== undefined) assertKeyedOptions(options.key, dueAt);
    const { data, headers } = buildJobMessage(job.payload, {
      jobId,
      encoding: options.encoding ?? this.#encoding,
      maxAttempts: options.maxAttempts,
      timeoutMs: options.timeoutMs,
      dueAt,
      key: options.key,
      extraHeaders: options.headers,
    });
    const wantsResult = options.result === true;
    if (wantsResult) headers.append(Header.Result, "1");
    if (options.unique !== undefined) headers.append(Header.UniqueKey, uniqueKeyHash(options.unique.key));
    return { subject: this.subjects.job(job.queue, job.name), jobId, data, headers, dueAt, wantsResult };
  }

  #states: Promise<JobStates> | undefined;
  #claims: Promise<UniqueClaims> | undefined;

  #jobStates(): Promise<JobStates> {
    this.#states ??= JobStates.open(this.nc, resultsBucket(this.subjects));
    return this.#states;
  }

  #uniqueClaims(): Promise<UniqueClaims> {
    this.#claims ??= new Kvm(this.nc).open(uniqueBucket(this.subjects)).then((kv) => new UniqueClaims(kv));
    return this.#claims;
  }

  /**
   * The result of a job enqueued with `result: true`: resolves with its handler's return value,
   * rejects with JobFailedError (dead-lettered or cancelled: the job's error class and message),
   * ResultUnavailableError (completed, result too large or not JSON) or ResultTimeoutError.
   */
  async result(jobId: string, options: { timeoutMs?: number } = {}): Promise<unknown> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_RESULT_TIMEOUT_MS;
    assertTimeout("result option timeoutMs", timeoutMs);
    return (await this.#jobStates()).result(jobId, timeoutMs);
  }

  /**
   * The recorded state of a job enqueued with `result: true` (waiting, running with its progress,
   * or its outcome), or undefined when none is kept: not asked for, unknown, or past retention.
   */
  async jobState(jobId: string): Promise<JobState | undefined> {
    return (await this.#jobStates()).read(jobId);
  }

  /**
   * Request/response: enqueues with `result: true` and waits for the result as client.result()
   * does. `waitTimeoutMs` bounds the whole call (`timeoutMs` remains the job's own timeout).
   */
  async enqueueAndWait(
    queue: string,
    name: string,
    payload?: unknown,
    options: EnqueueOptions & { waitTimeoutMs?: number } = {},
  ): Promise<unknown> {
    const { waitTimeoutMs = DEFAULT_RESULT_TIMEOUT_MS, ...enqueueOptions } = options;
    assertTimeout("enqueueAndWait option waitTimeoutMs", waitTimeoutMs);
    const startedAt = Date.now();
    const { jobId } = await this.enqueue(queue, name, payload, { ...enqueueOptions, result: true });
    return this.result(jobId, { timeoutMs: Math.max(1, waitTimeoutMs - (Date.now() - startedAt)) });
  }

  /**
   * Frees a uniqueness key at once, whatever holds it: for a job that ended without its worker
   * releasing the key (its queue was purged, or the worker died right after acknowledging it).
   */
  async releaseUniqueKey(queue: string, key: string): Promise<void> {
    assertToken("queue", queue);
    await (await this.#uniqueClaims()).forget(queue, key);
  }

  /**
   * How long job states and results are kept, for the whole mesh: on nats-server 2.9 an entry's
   * lifetime is its bucket's max age (docs/results-and-uniqueness.md). @default 24 h
   */
  setResultRetention(ttlMs: number): Promise<void> {
    return setResultRetention(this.#jsm, this.subjects, ttlMs);
  }

  /** Turns a failed publish into an error the producer can act on. */
  async #explainPublishError(error: unknown, queue: string, sizeBytes: number): Promise<Error> {
    const message = (error as Error).message ?? String(error);
    if (error instanceof JetStreamApiError) {
      if (error.code === 10077 || error.code === 10078 || /maximum (messages|bytes)/i.test(message)) {
        return new QueueFullError(queue, message);
      }
      if (error.code === 10054 || /message size exceeds/i.test(message)) {
        return new PayloadTooLargeError(sizeBytes, undefined, message);
      }
    }
    if (/max_payload/i.test(message))
      return new PayloadTooLargeError(sizeBytes, this.nc.info?.max_payload, message);
    // No stream answered: either the queue was never declared, or its stream has no leader right now.
    const missing = await readQueueSettings(this.#jsm, this.subjects, queue).then(
      () => false,
      (lookup: unknown) => lookup instanceof QueueNotFoundError,
    );
    if (missing) return new QueueNotFoundError(queue);
    return new JetmeshError("ENQUEUE_FAILED", `enqueue to queue "${queue}" failed: ${message}`, {
      cause: error,
    });
  }

  async close(): Promise<void> {
    this.#publisher.close();
    if (this.#ownsConnection) await this.nc.drain();
  }
}

/** A job ready to publish. */
interface PreparedJob {
  subject: string;
  jobId: string;
  data: Uint8Array;
  headers: MsgHdrs;
  dueAt: number | undefined;
  wantsResult: boolean;
}

/** Reserved headers an enqueue's extra headers may not override. */
const RESERVED_HEADERS = new Set(
  [
    Header.MsgId,
    Header.ContentType,
    Header.Version,
    Header.JobId,
    Header.Attempt,
    Header.MaxAttempts,
    Header.TimeoutMs,
    Header.EnqueuedAt,
    Header.DueAt,
    Header.Subject,
    Header.Result,
    Header.UniqueKey,
    Header.Key,
  ].map((name) => name.toLowerCase()),
);

function assertEnqueueOptions(options: EnqueueOptions): void {
  for (const key of ["maxAttempts", "timeoutMs"] as const) {
    const value = options[key];
    if (value !== undefined && (!Number.isSafeInteger(value) || value < 1)) {
      throw new JetmeshError(
        "INVALID_OPTIONS",
        `enqueue option ${key} must be a positive integer, got ${value}`,
      );
    }
  }
  for (const name of Object.keys(options.headers ?? {})) {
    if (RESERVED_HEADERS.has(name.toLowerCase())) {
      throw new JetmeshError(
        "INVALID_OPTIONS",
        `header ${name} is set by jetmesh; use the enqueue option instead`,
      );
    }
  }
}

/** A publish the server refused outright: no job was stored. (A timeout leaves it unknown.) */
function wasRefused(error: unknown): boolean {
  return (
    error instanceof QueueNotFoundError ||
    error instanceof QueueFullError ||
    error instanceof PayloadTooLargeError
  );
}

function assertKeyedOptions(key: string, dueAt: number | undefined): void {
  assertKey(key);
  if (dueAt !== undefined) {
    throw new JetmeshError(
      "INVALID_OPTIONS",
      "a keyed job cannot be delayed (delay or runAt): enqueue it when it is due",
    );
  }
}

/** The due time the options ask for: `delay` from now, or `runAt`; undefined to run at once. */
function dueTimeOf(options: EnqueueOptions): number | undefined {
  if (options.delay !== undefined && options.runAt !== undefined)
    throw new JetmeshError("INVALID_OPTIONS", "give either delay or runAt, not both");
  if (options.delay !== undefined) {
    if (!Number.isFinite(options.delay) || options.delay < 0)
      throw new JetmeshError(
        "INVALID_OPTIONS",
        `enqueue option delay must be a number of ms ≥ 0, got ${options.delay}`,
      );
    return Date.now() + Math.round(options.delay);
  }
  if (options.runAt === undefined) return undefined;
  const at = options.runAt instanceof Date ? options.runAt.getTime() : options.runAt;
  if (!Number.isSafeInteger(at) || at < 0)
    throw new JetmeshError(
      "INVALID_OPTIONS",
      `enqueue option runAt must be a Date or whole ms since the epoch, got ${String(options.runAt)}`,
    );
  return at;
}
