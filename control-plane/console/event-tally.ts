// Counts lifecycle events per queue as they pass, for what the queue facts cannot say: how many
// jobs completed and failed in the last minute (throughput, error rate) and which error classes
// the failures had over the last half hour. Counting goes by subject alone; only `failed` events
// are decoded, for their error class.
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import type { LifecycleEvent } from "../../runtime/index.ts";

const COUNTED = ["started", "completed", "failed", "retrying", "dead", "cancelled"] as const;
type Counted = (typeof COUNTED)[number];
const WINDOW_S = 60;
const SLOTS = WINDOW_S + 1;
const CLASS_MINUTES = 30;
/** Error classes tracked per queue; a flood of distinct classes stops at this many. */
const MAX_CLASSES = 100;

export interface EventRates {
  /** Seconds the rates are measured over (shorter just after start). */
  windowS: number;
  completedPerSec: number;
  failedPerSec: number;
  /** Failed attempts among finished ones (completed + failed); null when none finished. */
  errorRate: number | null;
}

export interface FailureClass {
  queue: string;
  errorClass: string;
  total: number;
  lastAt: number;
  lastMessage: string;
  /** Failures per minute, oldest first, ending with the current minute. */
  perMinute: number[];
}

interface QueueTally {
  seconds: Float64Array;
  counts: Uint32Array;
  classes: Map<string, { minutes: Map<number, number>; lastAt: number; lastMessage: string }>;
}

export class EventTally {
  readonly #queues = new Map<string, QueueTally>();
  readonly #startedAt: number;
  #subscription: Subscription | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly prefix: string,
    private readonly now: () => number = Date.now,
  ) {
    this.#startedAt = now();
  }

  start(): void {
    const head = `${this.prefix}.evt.`;
    this.#subscription = this.nc.subscribe(`${head}*.*`, {
      callback: (_error, msg) => {
        const rest = msg.subject.slice(head.length);
        const dot = rest.indexOf(".");
        const type = rest.slice(dot + 1) as Counted;
        if (dot <= 0 || !COUNTED.includes(type)) return;
        const queue = rest.slice(0, dot);
        this.count(queue, type);
        if (type !== "failed") return;
        try {
          const event = msg.json<LifecycleEvent>();
          if (event.error !== undefined) this.failure(queue, event.error.class, event.error.message);
        } catch {
          // an unreadable event still counted as a failure above
        }
      },
    });
  }

  stop(): void {
    this.#subscription?.unsubscribe();
    this.#subscription = undefined;
  }

  count(queue: string, type: Counted): void {
    const tally = this.#tally(queue);
    const second = Math.floor(this.now() / 1000);
    const slot = second % SLOTS;
    if (tally.seconds[slot] !== second) {
      tally.seconds[slot] = second;
      tally.counts.fill(0, slot * COUNTED.length, (slot + 1) * COUNTED.length);
    }
    const index = slot * COUNTED.length + COUNTED.indexOf(type);
    tally.counts[index] = (tally.counts[index] ?? 0) + 1;
  }

  failure(queue: string, errorClass: string, message: string): void {
    const tally = this.#tally(queue);
    let entry = tally.classes.get(errorClass);
    if (entry === undefined) {
      if (tally.classes.size >= MAX_CLASSES) return;
      entry = { minutes: new Map(), lastAt: 0, lastMessage: "" };
      tally.classes.set(errorClass, entry);
    }
    const now = this.now();
    const minute = Math.floor(now / 60_000);
    entry.minutes.set(minute, (entry.minutes.get(minute) ?? 0) + 1);
    for (const old of entry.minutes.keys()) if (old <= minute - CLASS_MINUTES) entry.minutes.delete(old);
    entry.lastAt = now;
    entry.lastMessage = message.slice(0, 300);
  }

  /** Rates over the last full minute (or since start, when that is shorter). */
  rates(queue: string): EventRates {
    const now = this.now();
    const windowS = Math.max(1, Math.min(WINDOW_S, Math.floor((now - this.#startedAt) / 1000)));
    const tally = this.#queues.get(queue);
    const sums = new Map<Counted, number>(COUNTED.map((type) => [type, 0]));
    if (tally !== undefined) {
      const current = Math.floor(now / 1000);
      for (let slot = 0; slot < SLOTS; slot++) {
        const second = tally.seconds[slot] ?? 0;
        if (second >= current || second < current - windowS) continue;
        COUNTED.forEach((type, i) => {
          sums.set(type, (sums.get(type) ?? 0) + (tally.counts[slot * COUNTED.length + i] ?? 0));
        });
      }
    }
    const completed = sums.get("completed") ?? 0;
    const failed = sums.get("failed") ?? 0;
    return {
      windowS,
      completedPerSec: round(completed / windowS),
      failedPerSec: round(failed / windowS),
      errorRate: completed + failed === 0 ? null : round(failed / (completed + failed)),
    };
  }

  /** Error classes of failed attempts in the last half hour, most frequent first. */
  failureClasses(): FailureClass[] {
    const minute = Math.floor(this.now() / 60_000);
    const result: FailureClass[] = [];
    for (const [queue, tally] of this.#queues) {
      for (const [errorClass, entry] of tally.classes) {
        const perMinute: number[] = [];
        for (let m = minute - CLASS_MINUTES + 1; m <= minute; m++) perMinute.push(entry.minutes.get(m) ?? 0);
        const total = perMinute.reduce((a, b) => a + b, 0);
        if (total === 0) continue;
        result.push({
          queue,
          errorClass,
          total,
          lastAt: entry.lastAt,
          lastMessage: entry.lastMessage,
          perMinute,
        });
      }
    }
    return result.sort((a, b) => b.total - a.total || a.queue.localeCompare(b.queue));
  }

  #tally(queue: string): QueueTally {
    let tally = this.#queues.get(queue);
    if (tally === undefined) {
      tally = {
        seconds: new Float64Array(SLOTS),
        counts: new Uint32Array(SLOTS * COUNTED.length),
        classes: new Map(),
      };
      this.#queues.set(queue, tally);
    }
    return tally;
  }
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}
