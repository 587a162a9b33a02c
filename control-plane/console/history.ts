// The recent past of the fleet and of each queue, for the console's charts: points recorded
// from the overview snapshots, at most one per spacing, kept for a bounded time.

export interface HistoryPoint {
  pending: number;
  inFlight: number;
  enqueuedPerSec: number;
  completedPerSec: number;
}

/** Columns rather than rows: about half the bytes on the wire. */
export interface HistorySeries {
  at: number[];
  pending: number[];
  inFlight: number[];
  enqueuedPerSec: number[];
  completedPerSec: number[];
}

const FLEET = "";

export class History {
  readonly #series = new Map<string, HistorySeries>();
  #lastAt = 0;

  constructor(
    private readonly spacingMs = 2000,
    private readonly keepMs = 10 * 60_000,
  ) {}

  /** Records one snapshot of every queue (and their sum); too soon after the last one, nothing. */
  record(at: number, queues: ReadonlyMap<string, HistoryPoint>): void {
    if (at - this.#lastAt < this.spacingMs) return;
    this.#lastAt = at;
    const fleet: HistoryPoint = { pending: 0, inFlight: 0, enqueuedPerSec: 0, completedPerSec: 0 };
    for (const [queue, point] of queues) {
      this.#append(queue, at, point);
      fleet.pending += point.pending;
      fleet.inFlight += point.inFlight;
      fleet.enqueuedPerSec += point.enqueuedPerSec;
      fleet.completedPerSec += point.completedPerSec;
    }
    this.#append(FLEET, at, fleet);
    for (const [key, series] of this.#series) {
      if (key !== FLEET && !queues.has(key) && (series.at.at(-1) ?? 0) < at - this.keepMs)
        this.#series.delete(key);
    }
  }

  fleet(): HistorySeries {
    return this.#series.get(FLEET) ?? empty();
  }

  queue(queue: string): HistorySeries {
    return this.#series.get(queue) ?? empty();
  }

  #append(key: string, at: number, point: HistoryPoint): void {
    let series = this.#series.get(key);
    if (series === undefined) {
      series = empty();
      this.#series.set(key, series);
    }
    series.at.push(at);
    series.pending.push(point.pending);
    series.inFlight.push(point.inFlight);
    series.enqueuedPerSec.push(round(point.enqueuedPerSec));
    series.completedPerSec.push(round(point.completedPerSec));
    let drop = 0;
    while ((series.at[drop] ?? at) < at - this.keepMs) drop++;
    if (drop > 0) for (const column of Object.values(series) as number[][]) column.splice(0, drop);
  }
}

function empty(): HistorySeries {
  return { at: [], pending: [], inFlight: [], enqueuedPerSec: [], completedPerSec: [] };
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
