// Records enqueue-to-start latencies of the measured stretch and summarizes them.
import { percentileOfSorted } from "../stats.ts";

export class LatencyRecorder {
  readonly #samples: Float64Array;
  readonly #warmupMs: number;
  #count = 0;
  #measureFrom = Number.POSITIVE_INFINITY;

  constructor(capacity: number, warmupMs: number) {
    this.#samples = new Float64Array(capacity);
    this.#warmupMs = warmupMs;
  }

  /** Called as sending starts: jobs sent during the warm-up after it are not recorded. */
  begin(): void {
    this.#measureFrom = performance.now() + this.#warmupMs;
  }

  /** Called when a handler starts the job that was sent at `sentAt` (a performance.now() time). */
  record(sentAt: number): void {
    if (sentAt < this.#measureFrom || this.#count === this.#samples.length) return;
    this.#samples[this.#count++] = performance.now() - sentAt;
  }

  summary(): { p50: number; p99: number; p999: number } {
    if (this.#count === 0) throw new Error("no latency was recorded");
    const sorted = this.#samples.subarray(0, this.#count).sort();
    return {
      p50: percentileOfSorted(sorted, 50),
      p99: percentileOfSorted(sorted, 99),
      p999: percentileOfSorted(sorted, 99.9),
    };
  }
}
