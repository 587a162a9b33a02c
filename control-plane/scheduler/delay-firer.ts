// Moves delayed jobs from the delay store to their queues when they are due. The store files
// each job under its due second (one literal subject per second); the firer walks seconds in
// order from a cursor kept in KV, reads one second's jobs at a time (never the whole store),
// publishes the due ones to their queues in due order with their own Nats-Msg-Id, and deletes
// each one once its queue has it.
// Two firers overlapping (a lease handover) publish a job twice under one id: JetStream keeps one.
import { AckPolicy, DeliverPolicy, type JsMsg } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import { headers as createHeaders, type MsgHdrs, nanos } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { Header } from "../../runtime/index.ts";
import type { Mesh } from "../mesh.ts";

export interface DelayFirerOptions {
  /**
   * Seconds a past second stays under watch before the cursor passes it: a job published just
   * before its due time (a producer's clock behind, a slow publish) still fires.
   */
  graceSeconds: number;
  /** Most jobs read from the store at once. */
  batchSize: number;
}

interface StoredJob {
  seq: number;
  /** Undefined when the Jetmesh-Subject header is missing or names no job subject of this mesh. */
  queue: string | undefined;
  name: string;
  dueAt: number;
  data: Uint8Array;
  headers: MsgHdrs;
  msgId: string;
}

const CURSOR_KEY = "delay-cursor";
/** Jobs published (and then deleted) together; JetStream keeps their order. */
const PUBLISH_WINDOW = 500;

export class DelayFirer {
  #cursor: number | undefined;
  #storeSeen = false;

  constructor(
    private readonly mesh: Mesh,
    private readonly kv: KV,
    private readonly logger: Logger,
    private readonly options: DelayFirerOptions,
  ) {}

  /** Forgets the cursor, so the next run reads it again (after another replica ran the scheduler). */
  reset(): void {
    this.#cursor = undefined;
  }

  /** Fires every stored job due by `now`, earliest first; `active` stops it early when false. */
  async fireDue(active: () => boolean, now = Date.now()): Promise<number> {
    if (!(await this.#storeExists())) return 0;
    const nowSecond = Math.floor(now / 1000);
    const settled = nowSecond - this.options.graceSeconds;
    let cursor = this.#cursor ?? (await this.#loadCursor(nowSecond));
    const start = cursor;
    let fired = 0;
    for (let second = cursor; second <= nowSecond && active(); ) {
      const minuteEnd = (Math.floor(second / 60) + 1) * 60;
      if ((second === start || second % 60 === 0) && minuteEnd <= settled) {
        const inMinute = await this.#count(this.mesh.subjects.delayedMinuteFilter(Math.floor(second / 60)));
        if (inMinute === 0) {
          if (cursor === second) cursor = minuteEnd;
          second = minuteEnd;
          continue;
        }
      }
      const { fired: count, remaining } = await this.#fireSecond(second, now, active);
      fired += count;
      if (cursor === second && second < settled && remaining === 0) cursor = second + 1;
      second++;
    }
    if (cursor !== this.#cursor) {
      this.#cursor = cursor;
      await this.kv.put(CURSOR_KEY, String(cursor));
    }
    return fired;
  }

  async #fireSecond(
    second: number,
    now: number,
    active: () => boolean,
  ): Promise<{ fired: number; remaining: number }> {
    const subject = this.mesh.subjects.delayedSecond(second);
    let fired = 0;
    for (;;) {
      // One lookup in the server's per-subject index: most seconds have no job.
      // Stopped early: the second counts as not done, so the cursor stays on it.
      if (!active()) return { fired, remaining: Number.NaN };
      if (!(await this.#holdsAny(subject))) return { fired, remaining: 0 };
      const { jobs, pending } = await this.#read(subject, second);
      const due = jobs.filter((job) => job.dueAt <= now).sort((a, b) => a.dueAt - b.dueAt || a.seq - b.seq);
      const moved = await this.#fire(due);
      fired += moved;
      // Done when this read saw the whole second, or nothing more can move now.
      if (jobs.length >= pending || moved === 0) return { fired, remaining: pending - moved };
    }
  }

  /** Publishes jobs to their queues in order, deleting each one its queue has stored. */
  async #fire(jobs: StoredJob[]): Promise<number> {
    const { js, jsm, subjects } = this.mesh;
    let moved = 0;
    for (let start = 0; start < jobs.length; start += PUBLISH_WINDOW) {
      const window = jobs.slice(start, start + PUBLISH_WINDOW);
      const outcomes = await Promise.allSettled(
        window.map((job) =>
          job.queue === undefined
            ? Promise.reject(new Error("no valid Jetmesh-Subject header"))
            : js.publish(subjects.job(job.queue, job.name), job.data, {
                headers: job.headers,
                msgID: job.msgId,
              }),
        ),
      );
      const done: StoredJob[] = [];
      for (const [index, outcome] of outcomes.entries()) {
        const job = window[index] as StoredJob;
        if (outcome.status === "fulfilled") done.push(job);
        else if (await this.#deadLetterIfQueueGone(job, outcome.reason)) done.push(job);
      }
      await Promise.all(
        done.map((job) => jsm.streams.deleteMessage(subjects.delayedStream(), job.seq, false)),
      );
      moved += done.length;
    }
    return moved;
  }

  /**
   * A job without a queue to go to would block its second forever: it goes to the dead-letter
   * stream with the reason. Any other failure (no stream leader right now) is retried.
   */
  async #deadLetterIfQueueGone(job: StoredJob, error: unknown): Promise<boolean> {
    const { js, subjects } = this.mesh;
    if (job.queue !== undefined && (await this.mesh.streamExists(subjects.queueStream(job.queue)))) {
      this.logger.warn(
        { err: error, jobId: job.msgId, queue: job.queue },
        "could not fire a delayed job; retrying",
      );
      return false;
    }
    const [reason, message] =
      job.queue === undefined
        ? [
            "invalid-subject",
            "the delayed job has no Jetmesh-Subject header naming a job subject of this mesh",
          ]
        : ["queue-not-found", `queue "${job.queue}" does not exist (its delayed job came due)`];
    const h = createHeaders();
    for (const [key, values] of job.headers) for (const value of values) h.append(key, value);
    h.set(Header.DeadReason, reason);
    h.set(Header.ErrorClass, job.queue === undefined ? "DecodeError" : "QueueNotFoundError");
    h.set(Header.ErrorMessage, message);
    h.set(Header.FailedAt, String(Date.now()));
    h.set(Header.OriginalSubject, subjects.delayed(job.dueAt));
    // A job without a valid queue is kept under the queue token "delayed", named by the reason.
    const deadSubject =
      job.queue === undefined
        ? subjects.deadLetter("delayed", reason)
        : subjects.deadLetter(job.queue, job.name);
    await js.publish(deadSubject, job.data, { headers: h, msgID: `${job.msgId}:dead` });
    this.logger.warn({ jobId: job.msgId, queue: job.queue, reason }, "delayed job dead-lettered");
    return true;
  }

  /**
   * Reads a second's jobs (at most a batch) through a short-lived consumer that acknowledges
   * nothing; `pending` is how many the second holds in all.
   */
  async #read(subject: string, second: number): Promise<{ jobs: StoredJob[]; pending: number }> {
    const { js, jsm, subjects } = this.mesh;
    const stream = subjects.delayedStream();
    const info = await jsm.consumers.add(stream, {
      filter_subject: subject,
      ack_policy: AckPolicy.None,
      deliver_policy: DeliverPolicy.All,
      mem_storage: true,
      inactive_threshold: nanos(30_000),
    });
    const jobs: StoredJob[] = [];
    const max = Math.min(info.num_pending, this.options.batchSize);
    try {
      if (max === 0) return { jobs, pending: 0 };
      const consumer = await js.consumers.get(stream, info.name);
      const messages = await consumer.fetch({ max_messages: max, expires: 5000 });
      for await (const msg of messages) {
        jobs.push(this.#stored(msg, second));
        if (jobs.length >= max) break;
      }
    } finally {
      await jsm.consumers.delete(stream, info.name).catch(() => {});
    }
    return { jobs, pending: info.num_pending };
  }

  #stored(msg: JsMsg, second: number): StoredJob {
    let headers: MsgHdrs;
    try {
      headers = msg.headers ?? createHeaders();
    } catch (error) {
      // A header block the client cannot parse: fire it as is, the worker dead-letters it.
      this.logger.warn({ err: error, seq: msg.seq }, "unreadable headers on a delayed job");
      headers = createHeaders();
    }
    const header = (name: string) => headers.get(name) || undefined;
    const target = this.mesh.subjects.parseJob(header(Header.Subject) ?? "");
    // The queue subject travels in the job's headers only while it waits.
    headers.delete(Header.Subject);
    const due = Number(header(Header.DueAt));
    // The second it is filed under bounds its due time: a later header cannot hold it back.
    const latest = second * 1000 + 999;
    return {
      seq: msg.seq,
      queue: target?.queue,
      name: target?.name ?? "",
      dueAt: Number.isSafeInteger(due) && due > 0 ? Math.min(due, latest) : second * 1000,
      data: msg.data,
      headers,
      msgId:
        header(Header.MsgId) ?? header(Header.JobId) ?? `${this.mesh.subjects.delayedStream()}-${msg.seq}`,
    };
  }

  async #holdsAny(subject: string): Promise<boolean> {
    const first = await this.mesh.jsm.direct.getMessage(this.mesh.subjects.delayedStream(), {
      next_by_subj: subject,
      seq: 0,
    });
    return first !== null;
  }

  async #count(filter: string): Promise<number> {
    const info = await this.mesh.jsm.streams.info(this.mesh.subjects.delayedStream(), {
      subjects_filter: filter,
    });
    return Object.values(info.state.subjects ?? {}).reduce((sum, n) => sum + n, 0);
  }

  async #storeExists(): Promise<boolean> {
    if (!this.#storeSeen) this.#storeSeen = await this.mesh.streamExists(this.mesh.subjects.delayedStream());
    return this.#storeSeen;
  }

  /** The stored cursor; on the first run ever, the earliest second any stored job is filed under. */
  async #loadCursor(nowSecond: number): Promise<number> {
    const entry = await this.kv.get(CURSOR_KEY);
    if (entry !== null && entry.operation === "PUT" && /^\d+$/.test(entry.string())) {
      this.#cursor = Number(entry.string());
      return this.#cursor;
    }
    const info = await this.mesh.jsm.streams.info(this.mesh.subjects.delayedStream(), {
      subjects_filter: `${this.mesh.subjects.prefix}.delayed.>`,
    });
    let earliest = nowSecond;
    for (const subject of Object.keys(info.state.subjects ?? {})) {
      const second = this.mesh.subjects.parseDelayed(subject);
      if (second !== undefined && second < earliest) earliest = second;
    }
    return earliest;
  }
}
