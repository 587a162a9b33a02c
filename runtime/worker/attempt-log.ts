// Keeps the failed attempts of each job in a KV bucket, so a dead letter (and a job lookup) can
// show every attempt's error even though retries redeliver the same stored message. Written on
// the failure path only: successful jobs cost nothing here.
import type { KV } from "@nats-io/kv";
import type { Logger } from "pino";
import { jobKey } from "../client/job-id.ts";
import type { FailureRecord } from "./failure.ts";

export interface AttemptRecord {
  attempt: number;
  /** When the attempt ended, ms since epoch. */
  at: number;
  kind: FailureRecord["kind"];
  errorClass: string;
  message: string;
  workerId: string;
}

/** Most attempts kept per job: the newest ones win. */
const MAX_RECORDS = 25;
const MAX_MESSAGE_LENGTH = 300;

export class AttemptLog {
  constructor(
    private readonly kv: KV,
    private readonly logger: Logger,
  ) {}

  async read(jobId: string): Promise<AttemptRecord[]> {
    try {
      const entry = await this.kv.get(jobKey(jobId));
      return entry === null || entry.length === 0 ? [] : (entry.json() as AttemptRecord[]);
    } catch (error) {
      this.logger.warn({ err: error, jobId }, "could not read attempt history");
      return [];
    }
  }

  /** Appends one failed attempt; history is best effort and never fails the job's outcome. */
  async append(jobId: string, record: AttemptRecord): Promise<AttemptRecord[]> {
    const history = (await this.read(jobId)).filter((previous) => previous.attempt !== record.attempt);
    history.push({ ...record, message: record.message.slice(0, MAX_MESSAGE_LENGTH) });
    const kept = history.slice(-MAX_RECORDS);
    try {
      await this.kv.put(jobKey(jobId), JSON.stringify(kept));
    } catch (error) {
      this.logger.warn({ err: error, jobId }, "could not record attempt history");
    }
    return kept;
  }
}
