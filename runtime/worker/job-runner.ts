// Runs one delivered job from start to outcome: read the envelope, check it can run, call the
// handler under a deadline, lease and abort signal, then acknowledge, retry or dead-letter.
// This is the hot path: the success case does no I/O besides the ack and the events.
import type { JetStreamClient } from "@nats-io/jetstream";
import type { Logger } from "pino";
import { jobKey } from "../client/job-id.ts";
import { DecodeError, JetmeshError, PayloadTooLargeError } from "../errors.ts";
import type { Delivery } from "../jetstream/delivery.ts";
import type { QueueSettings } from "../jetstream/queues.ts";
import { type AttemptSpan, endSpan, runInContext, startAttemptSpan } from "../observability/tracing.ts";
import { Header } from "../wire/headers.ts";
import {
  type HeaderValues,
  type JobEnvelope,
  readEnvelope,
  readHeader,
  readPayload,
} from "../wire/job-message.ts";
import type { Subjects } from "../wire/subjects.ts";
import type { AttemptLog, AttemptRecord } from "./attempt-log.ts";
import { deadLetter } from "./dead-letter.ts";
import { Deadlines } from "./deadlines.ts";
import { DEFAULT_JOB_TIMEOUT_MS, type JobContext, type JobDefinition } from "./define-job.ts";
import { deferUntilDue, isEarly, retryAfter } from "./delayed-retry.ts";
import { AbortReason, type DeadReason, describeFailure, type FailureRecord } from "./failure.ts";
import { handBack } from "./hand-back.ts";
import { type JobRecords, wantsRecords } from "./job-records.ts";
import type { Lease, LeaseKeeper } from "./lease-keeper.ts";
import type { LifecycleSink } from "./lifecycle.ts";
import { DEFAULT_BACKOFF, retryDelayMs } from "./retry-policy.ts";
import { RunControl, type Settled } from "./run-control.ts";

/** A job this worker is running now (for status, cancellation and shutdown). */
export interface RunningJob {
  readonly envelope: JobEnvelope;
  readonly startedAt: number;
  readonly control: RunControl;
  progress: unknown;
}

export interface JobRunnerOptions {
  js: JetStreamClient;
  subjects: Subjects;
  queue: QueueSettings;
  jobs: ReadonlyMap<string, JobDefinition>;
  leases: LeaseKeeper;
  attempts: AttemptLog;
  /** Where each lifecycle transition is reported (events, metrics, counters). */
  events: LifecycleSink;
  logger: Logger;
  workerId: string;
  maxPayloadBytes: number;
  /** True when the control bucket says the job (by its KV key) was cancelled. */
  isCancelled: (jobKey: string) => boolean;
  /** Receives the return value of jobs that asked for their result or hold a uniqueness key. */
  records: Pick<JobRecords, "completed">;
  /**
   * Set for a keyed partition, whose jobs keep their stream order (docs/keyed-jobs.md): a retry
   * waits as a delayed nak, never in the delay store, and a job handed back is nakked, never
   * stored again, since a stored copy would queue behind the key's later jobs.
   */
  inOrder?: { jobName: (subject: string) => string };
}

const NO_DETAILS = {};

export class JobRunner {
  /** Running jobs by stream sequence (unique per delivery, unlike job ids). */
  readonly running = new Map<number, RunningJob>();
  readonly #deadlines = new Deadlines();

  constructor(private readonly options: JobRunnerOptions) {}

  async run(msg: Delivery): Promise<void> {
    const { queue, jobs, inOrder } = this.options;
    const name =
      inOrder === undefined
        ? msg.subject.slice(this.options.subjects.queueFilter(queue.queue).length - 1)
        : inOrder.jobName(msg.subject);
    let values: HeaderValues | undefined;
    let envelope: JobEnvelope;
    try {
      values = msg.headerValues();
      envelope = readEnvelope({
        queue: queue.queue,
        name,
        headers: values,
        streamSequence: msg.seq,
        deliveryCount: msg.deliveryCount,
      });
    } catch (error) {
      const reason =
        error instanceof DecodeError
          ? error
          : new DecodeError(`malformed headers: ${(error as Error).message}`);
      return this.#deadLetterUnrunnable(
        msg,
        fallbackEnvelope(msg, queue.queue, name, values),
        "decode-failed",
        reason,
      );
    }
    if (this.options.isCancelled(jobKey(envelope.id))) return this.#cancel(msg, envelope);
    // A keyed job is not moved to the delay store: it would come back behind its key's later jobs.
    if (isEarly(envelope) && inOrder === undefined) return deferUntilDue(this.options, msg, envelope);
    const definition = jobs.get(envelope.name);
    if (definition === undefined) {
      const error = new JetmeshError(
        "UNKNOWN_JOB_NAME",
        `no handler for job name "${envelope.name}" on queue "${envelope.queue}" (known: ${[...jobs.keys()].join(", ")})`,
      );
      error.name = "UnknownJobNameError";
      return this.#deadLetterUnrunnable(msg, envelope, "unknown-job-name", error);
    }
    const maxAttempts = Math.min(
      queue.maxAttempts,
      envelope.maxAttempts ?? definition.maxAttempts ?? queue.maxAttempts,
    );
    if (envelope.attempt > maxAttempts) return this.#deadLetterExhausted(msg, envelope, maxAttempts);
    let payload: unknown;
    try {
      payload = readPayload(msg.data, envelope.contentType, this.options.maxPayloadBytes);
    } catch (error) {
      const reason = error instanceof PayloadTooLargeError ? "payload-too-large" : "decode-failed";
      return this.#deadLetterUnrunnable(msg, envelope, reason, error);
    }
    await this.#execute(msg, envelope, definition, payload, maxAttempts);
  }

  async #execute(
    msg: Delivery,
    envelope: JobEnvelope,
    definition: JobDefinition,
    payload: unknown,
    maxAttempts: number,
  ) {
    const { events, leases } = this.options;
    const startedAt = Date.now();
    const control = new RunControl();
    const job: RunningJob = { envelope, startedAt, control, progress: undefined };
    this.running.set(msg.seq, job);
    const lease = leases.hold(msg, () =>
      control.abort(
        new AbortReason("lease-lost", "the job's lease expired; JetStream may have redelivered it"),
      ),
    );
    const timeoutMs = envelope.timeoutMs ?? definition.timeoutMs ?? DEFAULT_JOB_TIMEOUT_MS;
    const deadline = this.#deadlines.add(startedAt, timeoutMs, control);
    // A delayed job waits in its queue from its due time, not from its enqueue.
    const waitingSince = envelope.dueAt ?? envelope.enqueuedAt;
    events.publish(
      "started",
      envelope,
      waitingSince === undefined ? NO_DETAILS : { waitMs: startedAt - waitingSince },
    );
    const attemptSpan = startAttemptSpan(envelope, msg.subject);
    const context = new RunningJobContext(envelope, maxAttempts, job, this.options, attemptSpan);
    const outcome =
      attemptSpan === undefined
        ? control.run(definition, payload, context)
        : runInContext(attemptSpan.context, () => control.run(definition, payload, context));
    // A synchronous handler's outcome is known at once: no await, so its ack leaves in this turn.
    const settled = outcome instanceof Promise ? await outcome : outcome;
    this.#deadlines.clear(deadline);
    this.running.delete(msg.seq);
    if (attemptSpan !== undefined) endSpan(attemptSpan.span, settled.ok ? undefined : settled.error);
    try {
      await this.#settle(msg, envelope, definition, maxAttempts, lease, settled, Date.now() - startedAt);
    } finally {
      leases.release(lease);
    }
  }

  async #settle(
    msg: Delivery,
    envelope: JobEnvelope,
    definition: JobDefinition,
    maxAttempts: number,
    lease: Lease,
    settled: Settled,
    durationMs: number,
  ): Promise<void> {
    const { events, leases, logger } = this.options;
    if (!leases.isValid(lease)) {
      // JetStream has handed this delivery to another worker; acking it would complete their run.
      logger.warn(
        { jobId: envelope.id, attempt: envelope.attempt },
        "lease lost while running; outcome discarded",
      );
      events.publish("failed", envelope, {
        durationMs,
        error: errorOf(new AbortReason("lease-lost", "lease lost"), "lease-lost"),
      });
      return;
    }
    if (settled.ok) {
      msg.ack();
      events.publish("completed", envelope, { durationMs });
      if (wantsRecords(envelope)) this.options.records.completed(envelope, settled.value);
      return;
    }
    const kind = settled.error instanceof AbortReason ? settled.error.kind : "handler";
    if (kind === "shutdown") return this.#handBack(msg, envelope);
    if (kind === "cancelled") return this.#cancel(msg, envelope, durationMs);
    const failure = describeFailure(settled.error, kind);
    events.publish("failed", envelope, { durationMs, error: errorOf(settled.error, kind) });
    const history = await this.options.attempts.append(envelope.id, this.#attemptRecord(envelope, failure));
    const permanent = (settled.error as { code?: unknown })?.code === "PERMANENT_FAILURE";
    if (permanent || envelope.attempt >= maxAttempts) {
      await this.#deadLetter(msg, envelope, permanent ? "permanent" : "max-attempts", failure, history);
      return;
    }
    const delayMs = retryDelayMs(definition.backoff ?? DEFAULT_BACKOFF, envelope.attempt, settled.error);
    if (this.options.inOrder === undefined) await retryAfter(this.options, msg, envelope, delayMs);
    else msg.nak(delayMs);
    events.publish("retrying", envelope, { retryInMs: delayMs, error: errorOf(settled.error, kind) });
  }

  #attemptRecord(envelope: JobEnvelope, failure: FailureRecord): AttemptRecord {
    return {
      attempt: envelope.attempt,
      at: Date.now(),
      kind: failure.kind,
      errorClass: failure.errorClass,
      message: failure.message,
      workerId: this.options.workerId,
    };
  }

  async #handBack(msg: Delivery, envelope: JobEnvelope): Promise<void> {
    // A keyed job stays where it is; its partition's next owner reads it again from there.
    if (this.options.inOrder !== undefined) return msg.nak();
    try {
      await handBack(this.options.js, msg, envelope.id, envelope.attempt);
    } catch (error) {
      this.options.logger.warn(
        { err: error, jobId: envelope.id },
        "could not hand the job back; it will be redelivered",
      );
      msg.nak();
    }
  }

  /** A cancelled job never runs again: terminate the delivery (no retry, no dead letter). */
  #cancel(msg: Delivery, envelope: JobEnvelope, durationMs?: number): void {
    msg.term();
    this.options.events.publish("cancelled", envelope, durationMs === undefined ? {} : { durationMs });
  }

  /** Aborts the running job with this KV key, if any; returns whether one was running. */
  cancelRunning(key: string): boolean {
    let found = false;
    for (const job of this.running.values()) {
      if (jobKey(job.envelope.id) !== key) continue;
      job.control.abort(new AbortReason("cancelled", "the job was cancelled"));
      found = true;
    }
    return found;
  }

  /** Hand-backs of deliveries that arrived after pulling stopped, until their copy is stored. */
  readonly #handingBack = new Set<Promise<void>>();

  /** Hands back a delivery this worker will not start (paused or stopping). */
  handBackUnstarted(msg: Delivery): void {
    let envelope: JobEnvelope;
    try {
      envelope = readEnvelope({
        queue: this.options.queue.queue,
        name: "",
        headers: msg.headerValues(),
        streamSequence: msg.seq,
        deliveryCount: msg.deliveryCount,
      });
    } catch {
      msg.nak();
      return;
    }
    const handing = this.#handBack(msg, envelope);
    this.#handingBack.add(handing);
    void handing.finally(() => this.#handingBack.delete(handing));
  }

  /**
   * Resolves once every hand-back started so far has settled. The worker waits for it before it
   * closes its connection: a copy stored whose original was never acknowledged would run twice.
   */
  async handBacksSettled(): Promise<void> {
    while (this.#handingBack.size > 0) await Promise.allSettled([...this.#handingBack]);
  }

  async #deadLetterExhausted(msg: Delivery, envelope: JobEnvelope, maxAttempts: number): Promise<void> {
    const history = await this.options.attempts.read(envelope.id);
    const last = history.at(-1);
    const failure = {
      errorClass: last?.errorClass ?? "AttemptsExhaustedError",
      message:
        last === undefined || last.attempt < envelope.attempt - 1
          ? `delivered ${envelope.attempt - 1} times without an outcome (max ${maxAttempts}): the workers running it stopped (crash, kill or lost lease)`
          : last.message,
      stack: undefined,
    };
    // Only the deliveries before this one ran; this one is dead-lettered unrun.
    await this.#deadLetter(msg, envelope, "attempts-exhausted", failure, history, envelope.attempt - 1);
  }

  async #deadLetterUnrunnable(
    msg: Delivery,
    envelope: JobEnvelope,
    reason: DeadReason,
    error: unknown,
  ): Promise<void> {
    const failure = describeFailure(error);
    this.options.logger.warn(
      { jobId: envelope.id, queue: envelope.queue, jobName: envelope.name, reason, err: error },
      "job cannot run; dead-lettering it",
    );
    await this.#deadLetter(msg, envelope, reason, failure, []);
  }

  async #deadLetter(
    msg: Delivery,
    envelope: JobEnvelope,
    reason: DeadReason,
    failure: Omit<FailureRecord, "kind">,
    history: AttemptRecord[],
    attempts = Math.max(envelope.attempt, history.length),
  ): Promise<void> {
    const { js, subjects, events, workerId, logger } = this.options;
    try {
      await deadLetter(js, subjects, msg, {
        queue: envelope.queue,
        name: envelope.name,
        jobId: envelope.id,
        reason,
        failure,
        attempts,
        history,
        workerId,
      });
      events.publish("dead", envelope, {
        reason,
        error: { class: failure.errorClass, message: failure.message, kind: reason },
      });
    } catch (error) {
      // The original stays in the queue and comes back; nothing is lost.
      logger.error({ err: error, jobId: envelope.id }, "dead-lettering failed; the job will be redelivered");
      msg.nak(1000);
    }
  }

  /** Aborts every running job with the given reason. */
  abortAll(reason: AbortReason): void {
    for (const job of this.running.values()) job.control.abort(reason);
  }
}

/**
 * What a handler gets besides its payload. A class, so the getters live on the prototype rather
 * than as closures built for every job.
 */
class RunningJobContext implements JobContext {
  readonly id: string;
  readonly queue: string;
  readonly name: string;
  readonly attempt: number;
  readonly maxAttempts: number;
  // Private fields: a handler that spreads or logs its context sees only the public face.
  readonly #envelope: JobEnvelope;
  readonly #job: RunningJob;
  readonly #runner: Pick<JobRunnerOptions, "logger" | "events">;
  readonly #attemptSpan: AttemptSpan | undefined;
  #logger: Logger | undefined;

  constructor(
    envelope: JobEnvelope,
    maxAttempts: number,
    job: RunningJob,
    runner: Pick<JobRunnerOptions, "logger" | "events">,
    attemptSpan: AttemptSpan | undefined,
  ) {
    this.id = envelope.id;
    this.queue = envelope.queue;
    this.name = envelope.name;
    this.attempt = envelope.attempt;
    this.maxAttempts = maxAttempts;
    this.#envelope = envelope;
    this.#job = job;
    this.#runner = runner;
    this.#attemptSpan = attemptSpan;
  }

  get signal(): AbortSignal {
    return this.#job.control.signal;
  }

  /** Built on first use: most handlers never log, and a child logger per job is not free. */
  get logger(): Logger {
    const span = this.#attemptSpan;
    // The worker's logger already carries the worker id and the queue.
    this.#logger ??= this.#runner.logger.child({
      jobId: this.id,
      jobName: this.name,
      attempt: this.attempt,
      ...(span?.traceId === undefined ? {} : { traceId: span.traceId, spanId: span.spanId }),
    });
    return this.#logger;
  }

  progress(value: unknown): void {
    this.#job.progress = value;
    this.#runner.events.publish("progress", this.#envelope, { progress: value });
  }
}

function errorOf(error: unknown, kind: string): { class: string; message: string; kind: string } {
  const failure = describeFailure(error);
  return { class: failure.errorClass, message: failure.message, kind };
}

/** The best envelope we can build when the headers are unreadable or invalid. */
function fallbackEnvelope(
  msg: Delivery,
  queue: string,
  name: string,
  values: HeaderValues | undefined,
): JobEnvelope {
  const fromHeaders =
    values === undefined ? undefined : (readHeader(values, Header.JobId) ?? readHeader(values, Header.MsgId));
  return {
    id: fromHeaders ?? `${queue}-${msg.seq}`,
    queue,
    name,
    attempt: msg.deliveryCount,
    maxAttempts: undefined,
    timeoutMs: undefined,
    enqueuedAt: undefined,
    dueAt: undefined,
    contentType: undefined,
    traceParent: undefined,
    traceState: undefined,
    // A job that cannot be read still releases its uniqueness key and records its failure.
    resultWanted: values !== undefined && readHeader(values, Header.Result) === "1",
    uniqueKey: values === undefined ? undefined : readHeader(values, Header.UniqueKey),
  };
}
