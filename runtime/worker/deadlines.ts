// Job timeouts with one timer instead of one per job. Deadlines mostly arrive in order (the same
// timeout, jobs started one after another), so adding one rarely moves the timer: it stays set for
// the earliest deadline and, when it fires, expires what is due and sets itself for the next.

import { AbortReason } from "./failure.ts";
import type { RunControl } from "./run-control.ts";

export interface Deadline {
  readonly at: number;
  readonly timeoutMs: number;
  /** The run to abort; no closure per job (under tsx each one also costs a __name call). */
  readonly control: Pick<RunControl, "abort">;
}

export class Deadlines {
  readonly #pending = new Set<Deadline>();
  #timer: NodeJS.Timeout | undefined;
  /** When the timer fires; Infinity when it is not set. */
  #timerAt = Number.POSITIVE_INFINITY;

  /** @param now clock, injectable for tests */
  constructor(private readonly now: () => number = Date.now) {}

  /** Aborts the run once `timeoutMs` from `startedAt` has passed, unless cleared first. */
  add(startedAt: number, timeoutMs: number, control: Pick<RunControl, "abort">): Deadline {
    const deadline: Deadline = { at: startedAt + timeoutMs, timeoutMs, control };
    this.#pending.add(deadline);
    if (deadline.at < this.#timerAt) this.#arm(deadline.at);
    return deadline;
  }

  /**
   * The timer is left as it is, even with nothing pending: firing once with nothing due costs
   * less than re-arming per job (it is unref'd, so it never holds the process open).
   */
  clear(deadline: Deadline): void {
    this.#pending.delete(deadline);
  }

  #arm(at: number): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = setTimeout(() => this.#expire(), Math.max(0, at - this.now()));
    // Running jobs keep the process alive on their own; a pending timeout should not.
    this.#timer.unref();
  }

  #expire(): void {
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
    const now = this.now();
    let next = Number.POSITIVE_INFINITY;
    for (const deadline of this.#pending) {
      if (deadline.at <= now) {
        this.#pending.delete(deadline);
        deadline.control.abort(
          new AbortReason("timeout", `job exceeded its timeout of ${deadline.timeoutMs} ms`),
        );
      } else if (deadline.at < next) {
        next = deadline.at;
      }
    }
    // An abort may have added or cleared deadlines (and armed the timer) meanwhile.
    if (next < this.#timerAt && this.#pending.size > 0) this.#arm(next);
  }
}
