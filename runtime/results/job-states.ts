// Reading and writing job states in the results bucket, and waiting for a final one as it is
// written (pushed by the server: no polling).
import { type KV, type KvEntry, Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { jobKey } from "../client/job-id.ts";
import { JetmeshError, JobFailedError, ResultTimeoutError, ResultUnavailableError } from "../errors.ts";
import { decodeJobState, encodeJobState, isFinal, type JobState } from "./job-state.ts";

/** The header that marks a KV delete or purge (a put carries none). */
const KV_OPERATION = "KV-Operation";

export class JobStates {
  constructor(
    private readonly nc: NatsConnection,
    private readonly kv: KV,
    private readonly bucket: string,
  ) {}

  static async open(nc: NatsConnection, bucket: string): Promise<JobStates> {
    return new JobStates(nc, await new Kvm(nc).open(bucket), bucket);
  }

  /** The job's recorded state, or undefined when none is kept (not asked for, unknown or expired). */
  async read(jobId: string): Promise<JobState | undefined> {
    return stateOf(await this.kv.get(jobKey(jobId)));
  }

  /**
   * Records `waiting` unless the job has a record already (a fast worker may have written first:
   * then this rejects, and the worker's record stands).
   */
  async recordWaiting(state: JobState): Promise<void> {
    await this.kv.create(jobKey(state.jobId), encodeJobState(state));
  }

  /** Overwrites the record; callers do not await it on their way to the ack. */
  write(state: JobState): Promise<number> {
    return this.kv.put(jobKey(state.jobId), encodeJobState(state));
  }

  /**
   * Resolves with the job's result once it completes; rejects with JobFailedError when it is
   * dead-lettered or cancelled, ResultUnavailableError when its result was not kept, and
   * ResultTimeoutError when no final state arrives within `timeoutMs`. The watch and the timer
   * are gone when it settles.
   */
  async result(jobId: string, timeoutMs: number): Promise<unknown> {
    const final = await this.#waitForFinal(jobId, timeoutMs);
    if (final.state === "completed") {
      if (final.resultError !== undefined) throw new ResultUnavailableError(jobId, final.resultError);
      return final.result;
    }
    const error = final.error ?? { class: "Error", message: "no error recorded", reason: final.state };
    throw new JobFailedError(jobId, error.reason, error.class, error.message);
  }

  /**
   * Waits with a core subscription to the record's KV subject, taken before one read of the
   * current record: every later write arrives on it, and no consumer is left on the server when
   * it ends (a KV watch's consumer lingers for minutes). A write the stream refused (a `create`
   * that lost to an existing record) is seen too; it is never a final state, so it is harmless.
   */
  #waitForFinal(jobId: string, timeoutMs: number): Promise<JobState> {
    const key = jobKey(jobId);
    return new Promise<JobState>((resolve, reject) => {
      let last: JobState | undefined;
      let settled = false;
      const finish = (outcome: { state: JobState } | { error: Error }) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        subscription.unsubscribe();
        if ("state" in outcome) resolve(outcome.state);
        else reject(outcome.error);
      };
      const consider = (state: JobState | undefined) => {
        if (state === undefined) return;
        if (isFinal(state)) finish({ state });
        else last = state;
      };
      const subscription = this.nc.subscribe(`$KV.${this.bucket}.${key}`, {
        callback: (error, msg) => {
          if (error !== null) return finish({ error });
          if (msg.headers?.get(KV_OPERATION) || msg.data.length === 0) return; // a delete or purge
          try {
            consider(decodeJobState(msg.string(), key));
          } catch (decodeError) {
            finish({ error: decodeError as Error });
          }
        },
      });
      const timer = setTimeout(
        () => finish({ error: new ResultTimeoutError(jobId, timeoutMs, last?.state) }),
        timeoutMs,
      );
      void subscription.closed.then(() =>
        finish({
          error: new JetmeshError(
            "RESULT_TIMEOUT",
            `stopped waiting for job ${jobId}: the connection closed`,
          ),
        }),
      );
      this.kv.get(key).then(
        (entry) => consider(stateOf(entry)),
        (error: unknown) => finish({ error: error as Error }),
      );
    });
  }
}

function stateOf(entry: KvEntry | null): JobState | undefined {
  if (entry === null || entry.operation !== "PUT" || entry.length === 0) return undefined;
  return decodeJobState(entry.string(), entry.key);
}

/** Checks a caller's wait: a positive whole number of ms. */
export function assertTimeout(name: string, timeoutMs: number): void {
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 1) {
    throw new JetmeshError(
      "INVALID_OPTIONS",
      `${name} must be a positive whole number of ms, got ${timeoutMs}`,
    );
  }
}
