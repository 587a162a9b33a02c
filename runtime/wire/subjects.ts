// Every subject and stream name of the wire contract, derived from one configurable prefix.
// docs/wire-format.md mirrors this file; change both together.
import { assertJobName, assertToken } from "./names.ts";

export const DEFAULT_PREFIX = "jetmesh";

export type LifecycleEventType =
  | "started"
  | "completed"
  | "failed"
  | "retrying"
  | "dead"
  | "cancelled"
  | "progress";

export class Subjects {
  readonly #jobPrefix: string;

  constructor(readonly prefix: string = DEFAULT_PREFIX) {
    assertToken("prefix", prefix);
    this.#jobPrefix = `${prefix}.q.`;
  }

  /** `<prefix>.q.<queue>.<name…>`: where a job is published. */
  job(queue: string, name: string): string {
    return `${this.#jobPrefix}${queue}.${name}`;
  }

  /** All job subjects of one queue: the queue stream's subject filter. */
  queueFilter(queue: string): string {
    return `${this.#jobPrefix}${queue}.>`;
  }

  /** `<prefix>.dlq.<queue>.<name…>`: where a dead job is kept. */
  deadLetter(queue: string, name: string): string {
    return `${this.prefix}.dlq.${queue}.${name}`;
  }

  deadLetterFilter(queue = "*"): string {
    return `${this.prefix}.dlq.${queue}.>`;
  }

  /**
   * `<prefix>.delayed.<minute>.<second>`: where a delayed job waits in the delay store, filed under
   * its due time (whole minutes and seconds since the epoch); its queue subject is in the
   * Jetmesh-Subject header. One literal subject per second lets the scheduler find a second's
   * jobs through the server's per-subject index, and the minute token lets it skip empty minutes
   * (docs/scheduling.md).
   */
  delayed(dueAt: number): string {
    return this.delayedSecond(Math.floor(dueAt / 1000));
  }

  /** The subject of the delayed jobs due within one second (`second` counted from the epoch). */
  delayedSecond(second: number): string {
    return `${this.prefix}.delayed.${Math.floor(second / 60)}.${second}`;
  }

  /** The delayed jobs due within one minute (`minute` counted from the epoch). */
  delayedMinuteFilter(minute: number): string {
    return `${this.prefix}.delayed.${minute}.*`;
  }

  /** The due second a delay-store subject files its jobs under. */
  parseDelayed(subject: string): number | undefined {
    const head = `${this.prefix}.delayed.`;
    if (!subject.startsWith(head)) return undefined;
    const second = subject.slice(head.length).split(".")[1];
    return second !== undefined && /^\d+$/.test(second) ? Number(second) : undefined;
  }

  /** The delay store: one stream for the delayed jobs and long retries of every queue. */
  delayedStream(): string {
    return `${this.prefix}_delayed`;
  }

  /** `<prefix>.evt.<queue>.<event>`: lifecycle events for live listeners (core NATS, not stored). */
  event(queue: string, type: LifecycleEventType): string {
    return `${this.prefix}.evt.${queue}.${type}`;
  }

  eventFilter(queue = "*", type: LifecycleEventType | "*" = "*"): string {
    return `${this.prefix}.evt.${queue}.${type}`;
  }

  /** `<prefix>.hb.<workerId>`: worker heartbeats. */
  heartbeat(workerId: string): string {
    return `${this.prefix}.hb.${workerId}`;
  }

  /** `<prefix>.ctl.<command>…`: control commands. */
  control(command: string): string {
    return `${this.prefix}.ctl.${command}`;
  }

  /** `<prefix>.api.<endpoint>`: the control plane's request-reply API. */
  api(endpoint: string): string {
    return `${this.prefix}.api.${endpoint}`;
  }

  /** Splits a job subject into queue and job name, or returns undefined for a foreign subject. */
  parseJob(subject: string): { queue: string; name: string } | undefined {
    if (!subject.startsWith(this.#jobPrefix)) return undefined;
    const rest = subject.slice(this.#jobPrefix.length);
    const dot = rest.indexOf(".");
    if (dot <= 0 || dot === rest.length - 1) return undefined;
    return { queue: rest.slice(0, dot), name: rest.slice(dot + 1) };
  }

  /** One stream per queue: `<prefix>_q_<queue>`. */
  queueStream(queue: string): string {
    assertToken("queue", queue);
    return `${this.prefix}_q_${queue}`;
  }

  /** The durable pull consumer all workers of a queue share. */
  queueConsumer(): string {
    return "workers";
  }

  /** One dead-letter stream for all queues of the mesh. */
  deadLetterStream(): string {
    return `${this.prefix}_dlq`;
  }

  validateJob(queue: string, name: string): void {
    assertToken("queue", queue);
    assertJobName(name);
  }
}
