// What a worker keeps for jobs that ask for it: the state, progress and result of a job enqueued
// with `result: true`, and the release of a job's uniqueness key when it ends. It follows the
// lifecycle like the other sinks; only the completion is handed over by the job runner, since the
// handler's return value is not part of the (serialized) lifecycle events. Jobs without those
// headers cost one check per transition. Every write is fire-and-forget, off the path to the ack,
// and issued in transition order on the worker's one connection, so the server stores them in
// that order.
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { resultsBucket, uniqueBucket } from "../results/buckets.ts";
import type { JobState } from "../results/job-state.ts";
import { JobStates } from "../results/job-states.ts";
import { UniqueClaims } from "../results/unique-claims.ts";
import type { JobEnvelope } from "../wire/job-message.ts";
import type { LifecycleEventType, Subjects } from "../wire/subjects.ts";
import type { LifecycleDetails, LifecycleSink } from "./lifecycle.ts";

/** Progress is written at most this often per job; the last value is always written. */
const PROGRESS_WRITE_INTERVAL_MS = 250;

/** True when the job asked for records: the one check the other jobs pay. */
export function wantsRecords(envelope: JobEnvelope): boolean {
  return envelope.resultWanted === true || envelope.uniqueKey !== undefined;
}

interface ProgressWrites {
  value: unknown;
  lastWriteAt: number;
  timer: NodeJS.Timeout | undefined;
}

export class JobRecords implements LifecycleSink {
  #states: Promise<JobStates> | undefined;
  #claims: Promise<UniqueClaims> | undefined;
  /** Jobs of this worker that reported progress, until their attempt ends. */
  readonly #progress = new Map<JobEnvelope, ProgressWrites>();

  constructor(
    private readonly nc: NatsConnection,
    private readonly subjects: Subjects,
    private readonly logger: Logger,
  ) {}

  publish(type: LifecycleEventType, envelope: JobEnvelope, details: LifecycleDetails = {}): void {
    if (!wantsRecords(envelope)) return;
    switch (type) {
      case "started":
        this.#record(envelope, "running");
        return;
      case "progress":
        this.#progressed(envelope, details.progress);
        return;
      case "failed": {
        // The attempt is over: no progress write may follow. A retry or a dead letter comes next
        // and records the last value, except after a lost lease, where nothing more comes.
        const progress = this.#progress.get(envelope);
        clearTimeout(progress?.timer);
        if (details.error?.kind === "lease-lost") this.#progress.delete(envelope);
        return;
      }
      case "retrying":
        this.#record(envelope, "waiting", { error: errorRecord(details) });
        return;
      case "dead":
        this.#record(envelope, "failed", { error: errorRecord(details) });
        this.#release(envelope);
        return;
      case "cancelled":
        this.#record(envelope, "cancelled", {
          error: { class: "JobCancelledError", message: "the job was cancelled", reason: "cancelled" },
        });
        this.#release(envelope);
        return;
      default:
      // completed comes through completed(), with the handler's return value.
    }
  }

  /** The job completed with `value` (its handler's return value). */
  completed(envelope: JobEnvelope, value: unknown): void {
    this.#record(envelope, "completed", value === undefined ? {} : { result: value });
    this.#release(envelope);
  }

  #record(envelope: JobEnvelope, state: JobState["state"], extra: Partial<JobState> = {}): void {
    if (envelope.resultWanted !== true) return;
    const progress = state === "running" ? undefined : this.#endAttempt(envelope);
    this.#write({
      jobId: envelope.id,
      queue: envelope.queue,
      name: envelope.name,
      state,
      attempt: envelope.attempt,
      ...(progress === undefined ? {} : { progress: progress.value }),
      ...extra,
      at: Date.now(),
    });
  }

  /** Stops the attempt's progress writes (none may land after its outcome); returns the last value. */
  #endAttempt(envelope: JobEnvelope): ProgressWrites | undefined {
    const progress = this.#progress.get(envelope);
    if (progress === undefined) return undefined;
    clearTimeout(progress.timer);
    this.#progress.delete(envelope);
    return progress;
  }

  #progressed(envelope: JobEnvelope, value: unknown): void {
    if (envelope.resultWanted !== true) return;
    let writes = this.#progress.get(envelope);
    if (writes === undefined) {
      writes = { value, lastWriteAt: 0, timer: undefined };
      this.#progress.set(envelope, writes);
    }
    writes.value = value;
    if (writes.timer !== undefined) return; // a trailing write is due and will carry this value
    const wait = writes.lastWriteAt + PROGRESS_WRITE_INTERVAL_MS - Date.now();
    const tracked = writes;
    const writeNow = () => {
      tracked.timer = undefined;
      tracked.lastWriteAt = Date.now();
      this.#write({
        jobId: envelope.id,
        queue: envelope.queue,
        name: envelope.name,
        state: "running",
        attempt: envelope.attempt,
        progress: tracked.value,
        at: tracked.lastWriteAt,
      });
    };
    if (wait <= 0) writeNow();
    else tracked.timer = setTimeout(writeNow, wait);
  }

  #write(state: JobState): void {
    this.#states ??= JobStates.open(this.nc, resultsBucket(this.subjects));
    void this.#states
      .then((states) => states.write(state))
      .catch((error: unknown) =>
        this.logger.warn(
          { err: error, jobId: state.jobId, state: state.state },
          "could not record job state",
        ),
      );
  }

  /** Frees the job's uniqueness key (after its window); the key stays held if this fails. */
  #release(envelope: JobEnvelope): void {
    const hash = envelope.uniqueKey;
    if (hash === undefined) return;
    this.#claims ??= new Kvm(this.nc).open(uniqueBucket(this.subjects)).then((kv) => new UniqueClaims(kv));
    void this.#claims
      .then((claims) => claims.markDone(envelope.queue, hash, envelope.id))
      .catch((error: unknown) =>
        this.logger.warn({ err: error, jobId: envelope.id }, "could not release the job's uniqueness key"),
      );
  }
}

function errorRecord(details: LifecycleDetails): JobState["error"] {
  const error = details.error;
  return {
    class: error?.class ?? "Error",
    message: error?.message ?? "no error recorded",
    reason: details.reason ?? error?.kind ?? "failed",
  };
}
