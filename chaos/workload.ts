// The workload: jobs with known ids enqueued at a steady rate, and every enqueue's outcome
// recorded — acknowledged, a definite error (nothing stored), or unknown (the write may or may
// not exist; retried with the same id, so JetStream de-duplicates it, until the retries run out).
import { JetmeshClient, type JobToEnqueue, PayloadTooLargeError, QueueFullError } from "../runtime/index.ts";
import type { Random } from "./random.ts";

/** What the harness expects a job to end in. */
export type Expectation = "completed" | "dead" | "rejected";

export interface EnqueueRecord {
  id: string;
  name: string;
  expect: Expectation;
  /** When the job was first offered to the client. */
  at: number;
  status: "pending" | "acked" | "error" | "unknown";
  /** Stream sequence from the PubAck. */
  seq?: number;
  /** When the acknowledgement arrived. */
  ackedAt?: number;
  /** True when an earlier try's outcome was unknown (a timeout, no responders) before the ack. */
  recovered: boolean;
  tries: number;
  error?: string;
}

export interface WorkloadOptions {
  queue: string;
  /** Jobs per second. */
  rate: number;
  runId: string;
  random: Random;
  /** Ack wait of the queue: the long tail of jobs is sized against it. */
  ackWaitMs: number;
  /** How long an enqueue with an unknown outcome keeps being retried (within the duplicate window). */
  retryForMs?: number;
  /** Enqueues in flight at once; the generator skips ticks above it (back-pressure, counted). */
  maxInFlight?: number;
}

const TICK_MS = 50;
const RETRY_PAUSE_MS = 500;

export class Workload {
  readonly records = new Map<string, EnqueueRecord>();
  #next = 0;
  #inFlight = 0;
  #timer: NodeJS.Timeout | undefined;
  #carry = 0;
  readonly #settling = new Set<Promise<void>>();

  private constructor(
    readonly client: JetmeshClient,
    private readonly options: WorkloadOptions,
  ) {}

  static async connect(servers: string[], options: WorkloadOptions): Promise<Workload> {
    const client = await JetmeshClient.connect({ connection: { servers }, publishTimeoutMs: 3000 });
    return new Workload(client, options);
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  /** Starts the steady stream of ordinary jobs. */
  start(): void {
    this.#timer = setInterval(() => this.#tick(), TICK_MS);
  }

  /** Stops generating; resolves when every enqueue started so far has settled. */
  async stop(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    while (this.#settling.size > 0) await Promise.all([...this.#settling]);
  }

  #tick(): void {
    this.#carry += (this.options.rate * TICK_MS) / 1000;
    const count = Math.floor(this.#carry);
    this.#carry -= count;
    const limit = this.options.maxInFlight ?? 2000;
    for (let i = 0; i < count && this.#inFlight < limit; i++) this.add("work", { ms: this.#duration() });
  }

  /** Mostly short jobs, a few medium ones, and a rare one longer than two ack waits. */
  #duration(): number {
    const roll = this.options.random.next();
    if (roll < 0.002) return Math.round(this.options.ackWaitMs * 2.2);
    if (roll < 0.05) return this.options.random.int(100, 500);
    return this.options.random.int(5, 50);
  }

  newId(): string {
    return `${this.options.runId}-${this.#next++}`;
  }

  /** Enqueues one job with a fresh known id; resolves when its outcome is settled. */
  add(name: string, payload: unknown, expect: Expectation = "completed"): Promise<void> {
    const id = this.newId();
    const record = this.track(id, name, expect);
    const job: JobToEnqueue = { queue: this.options.queue, name, payload, options: { jobId: id } };
    const settling = this.#enqueue(record, job);
    this.#settling.add(settling);
    void settling.finally(() => this.#settling.delete(settling));
    return settling;
  }

  /** Records a job that the harness stores by other means (raw, malformed messages). */
  track(id: string, name: string, expect: Expectation): EnqueueRecord {
    const record: EnqueueRecord = {
      id,
      name,
      expect,
      at: Date.now(),
      status: "pending",
      recovered: false,
      tries: 0,
    };
    this.records.set(id, record);
    return record;
  }

  async #enqueue(record: EnqueueRecord, job: JobToEnqueue): Promise<void> {
    this.#inFlight++;
    const giveUpAt = Date.now() + (this.options.retryForMs ?? 60_000);
    try {
      for (;;) {
        record.tries++;
        try {
          const result = await this.client.enqueue(job.queue, job.name, job.payload, job.options);
          record.status = "acked";
          record.seq = result.sequence;
          record.ackedAt = Date.now();
          return;
        } catch (error) {
          record.error = `${(error as Error).name}: ${(error as Error).message}`;
          if (error instanceof QueueFullError || error instanceof PayloadTooLargeError) {
            // A refusal only proves this try stored nothing: an earlier try that timed out may have.
            record.status = record.recovered ? "unknown" : "error";
            return;
          }
          record.recovered = true;
          if (Date.now() > giveUpAt) {
            record.status = "unknown";
            return;
          }
          await new Promise((resolve) => setTimeout(resolve, RETRY_PAUSE_MS));
        }
      }
    } finally {
      this.#inFlight--;
    }
  }

  async close(): Promise<void> {
    await this.client.close().catch(() => {});
  }
}
