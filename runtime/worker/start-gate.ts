// The fetcher's "may start n?" check for one queue. A queue without one pays nothing; a gate
// (a rate limit, or a scheduler sharing slots across queues) decides how many jobs are pulled and
// whether each delivered job starts now or waits, unstarted, under its lease.
import type { Delivery } from "../jetstream/delivery.ts";

export interface StartGate {
  /**
   * How many of `free` more jobs may be pulled now (0 to `free`). `committed` jobs were pulled or
   * are held and have not started: they spend what the gate has in hand first.
   */
  pullable(free: number, committed: number): number;
  /** Whether this delivered job may start now; spends what it needs when it may. */
  admit(delivery: Delivery): boolean;
  /** Set by the fetcher: called when pulls or starts refused before may now go ahead. */
  onReady: (() => void) | undefined;
}

/** A queue's fetcher as a gate sees it: the plain Fetcher, or a lane of shared priority slots. */
export interface GatedFetcher {
  /** Puts a gate in front of starts (a limit was set), or takes it away (undefined). */
  setGate(gate: StartGate | undefined): void;
  /** Delivered jobs waiting, unstarted and under their lease, for the gate to let them start. */
  readonly held: number;
}
