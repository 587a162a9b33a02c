// Stall detection: a queue that holds jobs while none leaves it for a whole window is stalled.
// Progress is read from JetStream state alone — a job left the queue when the stream's last
// sequence minus its message count grew — so no event can be missed, and any replica (or one
// restarted) reaches the same verdict once it has watched for a window. The likely cause comes
// from heartbeats and the pause records. Keyed jobs waiting in partitions that no worker has taken
// are a stall of their own: they are flagged after a window even while the queue's other jobs flow.
import type { KeyedQueueFacts, QueueStall, QueueView, StallCause } from "../api/protocol.ts";

/** What the detector needs of a sample: when, and the stream's counters. */
export interface ProgressSample {
  queue: string;
  at: number;
  lastSeq: number;
  backlog: number;
  keyed?: Pick<KeyedQueueFacts, "unowned">;
}

interface Progress {
  /** Jobs that ever left the queue (last sequence minus the messages held). */
  left: number;
  /** Last time a job left, or the queue was empty, or this replica first saw it. */
  lastProgressAt: number;
}

export class StallDetector {
  readonly #progress = new Map<string, Progress>();
  /** Since when each queue has had keyed jobs waiting in partitions without an owner. */
  readonly #unownedSince = new Map<string, number>();
  readonly #startedAt: number;

  constructor(
    readonly windowMs: number,
    now = Date.now(),
  ) {
    this.#startedAt = now;
  }

  /** How long this detector has watched: no stall is flagged before one window of it. */
  watchedForMs(now = Date.now()): number {
    return Math.max(0, now - this.#startedAt);
  }

  observe(samples: readonly ProgressSample[]): void {
    for (const sample of samples) {
      const left = sample.lastSeq - sample.backlog;
      const known = this.#progress.get(sample.queue);
      // An empty queue is not stalled, however long nothing happens.
      const progressed = known === undefined || left > known.left || sample.backlog === 0;
      const lastProgressAt = progressed
        ? Math.max(known?.lastProgressAt ?? 0, sample.at)
        : (known?.lastProgressAt ?? sample.at);
      this.#progress.set(sample.queue, { left: Math.max(left, known?.left ?? left), lastProgressAt });
      if ((sample.keyed?.unowned ?? 0) === 0) this.#unownedSince.delete(sample.queue);
      else if (!this.#unownedSince.has(sample.queue)) this.#unownedSince.set(sample.queue, sample.at);
    }
  }

  /** The stalled queues among these views, with their likely cause. */
  assess(views: readonly QueueView[], now = Date.now()): QueueStall[] {
    const stalls: QueueStall[] = [];
    for (const view of views) {
      const progress = this.#progress.get(view.queue);
      if (progress === undefined || view.backlog === 0) continue;
      // Whichever has waited longer: the whole queue without progress, or keyed jobs without an owner.
      const since = Math.min(
        progress.lastProgressAt,
        this.#unownedSince.get(view.queue) ?? Number.POSITIVE_INFINITY,
      );
      const stalledForMs = now - since;
      if (stalledForMs < this.windowMs) continue;
      const { cause, detail } = likelyCause(view);
      stalls.push({
        queue: view.queue,
        cause,
        detail,
        since,
        stalledForMs,
        backlog: view.backlog,
        pending: view.pending,
        inFlight: view.inFlight,
      });
    }
    return stalls;
  }

  /** Forgets queues that no longer exist. */
  retain(queues: ReadonlySet<string>): void {
    for (const queue of this.#progress.keys()) if (!queues.has(queue)) this.#progress.delete(queue);
    for (const queue of this.#unownedSince.keys()) if (!queues.has(queue)) this.#unownedSince.delete(queue);
  }
}

export function likelyCause(view: QueueView): { cause: StallCause; detail: string } {
  const w = view.workers;
  if (w.serving === 0)
    return {
      cause: "no-workers",
      detail: "no live worker serves the queue: start workers with it in JETMESH_QUEUES",
    };
  if (view.pause.paused || w.paused === w.serving)
    return {
      cause: "paused",
      detail: view.pause.paused
        ? `the queue is paused fleet-wide (by ${view.pause.record?.by ?? "unknown"}): jetmesh resume ${view.queue}`
        : `every worker serving it (${w.serving}) has it paused: jetmesh resume ${view.queue}`,
    };
  const unowned = view.keyed?.unowned ?? 0;
  if (unowned > 0)
    return {
      cause: "unowned-partitions",
      detail: `${unowned} keyed job(s) wait in partitions no worker has taken (${view.keyed?.ownedPartitions ?? 0} taken): workers take a queue's partitions when they start, so restart workers started before the queue was declared with keyPartitions, and check worker logs for lease errors`,
    };
  const active = w.serving - w.paused;
  if (
    (w.concurrency > 0 && w.running >= w.concurrency) ||
    (view.maxInFlight > 0 && view.inFlight >= view.maxInFlight)
  )
    return {
      cause: "slots-busy",
      detail: `every slot is busy (${w.running} running of ${w.concurrency} on ${active} worker(s), ${view.inFlight}/${view.maxInFlight} in flight) on jobs that do not finish: see jetmesh jobs --queue ${view.queue}, cancel them or give them a timeout`,
    };
  return {
    cause: "not-delivering",
    detail: `workers have free slots (${w.running} of ${w.concurrency} busy) yet no job leaves: jobs may be held in retry backoff or leased to a worker that is gone`,
  };
}
