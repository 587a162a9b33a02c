// A sliding window of job outcomes per queue and job name, kept in memory as fixed time slices
// fed by the lifecycle events: what `jetmesh stats` answers from. Every replica subscribes to
// every event (no queue group), so every replica holds the same window once it has run for as
// long as the window; a younger replica says how much of the window it saw (`coveredMs`).
// Durations and waits go into DDSketches (relative error 2 %), which merge across slices.
import { DDSketch } from "@datadog/sketches-js";
import type { LifecycleEvent } from "../../runtime/index.ts";
import type { Distribution, OutcomeCounts, OutcomeSummary } from "../api/protocol.ts";

/** Width of one slice: the window moves in steps this long. */
export const SLICE_MS = 10_000;
/** The longest window a report can cover; older slices are dropped. */
export const MAX_WINDOW_MS = 30 * 60_000;
/** (queue, job name) pairs tracked; events of further pairs count under the name "(other)". */
const MAX_SERIES = 500;
/** Error classes kept per pair; further ones count as "other". */
const MAX_ERROR_CLASSES = 50;
const RELATIVE_ACCURACY = 0.02;
/** Error classes a summary lists. */
const TOP_ERROR_CLASSES = 10;

interface Slice {
  start: number;
  counts: OutcomeCounts;
  duration: DDSketch | undefined;
  wait: DDSketch | undefined;
  errors: Map<string, number>;
}

interface Series {
  queue: string;
  name: string;
  slices: Slice[];
  errorClasses: Set<string>;
}

const COUNTED: Partial<Record<LifecycleEvent["type"], keyof OutcomeCounts>> = {
  completed: "completed",
  failed: "failed",
  retrying: "retried",
  dead: "dead",
  cancelled: "cancelled",
};

export class OutcomeWindow {
  readonly #series = new Map<string, Series>();
  readonly #now: () => number;
  readonly startedAt: number;

  constructor(options: { now?: () => number } = {}) {
    this.#now = options.now ?? Date.now;
    this.startedAt = this.#now();
  }

  /** Takes one lifecycle event into account, in the slice of the moment it arrived. */
  record(event: LifecycleEvent): void {
    const counted = COUNTED[event.type];
    const waitMs = event.attempt === 1 && isDuration(event.waitMs) ? event.waitMs : undefined;
    if (
      (counted === undefined && waitMs === undefined) ||
      typeof event.queue !== "string" ||
      typeof event.name !== "string"
    )
      return;
    const series = this.#seriesOf(event.queue, event.name);
    const slice = this.#slice(series, this.#now());
    if (counted !== undefined) slice.counts[counted]++;
    // A first attempt's wait travels on `started`, or on `completed` when the job finished within
    // the event-loop turn it started in and the worker sent no `started` (docs/wire-format.md).
    if (waitMs !== undefined) {
      slice.wait ??= sketch();
      slice.wait.accept(Math.max(0, waitMs));
    }
    if (
      (event.type === "completed" || event.type === "failed" || event.type === "cancelled") &&
      isDuration(event.durationMs)
    ) {
      slice.duration ??= sketch();
      slice.duration.accept(Math.max(0, event.durationMs));
    }
    if (event.type === "failed") {
      const errorClass = boundedClass(series, event.error?.class ?? "Error");
      slice.errors.set(errorClass, (slice.errors.get(errorClass) ?? 0) + 1);
    }
  }

  /** The pairs (queue, job name) that had events within the window. */
  summaries(windowMs: number, queue?: string): { queue: string; name: string; summary: OutcomeSummary }[] {
    const from = this.#now() - windowMs;
    const result: { queue: string; name: string; summary: OutcomeSummary }[] = [];
    for (const series of this.#series.values()) {
      this.#prune(series);
      if (queue !== undefined && series.queue !== queue) continue;
      const slices = series.slices.filter((slice) => slice.start + SLICE_MS > from);
      if (slices.length > 0)
        result.push({ queue: series.queue, name: series.name, summary: summarize(slices) });
    }
    return result.sort((a, b) => a.queue.localeCompare(b.queue) || a.name.localeCompare(b.name));
  }

  /** One summary over several pairs' windows (a queue's total over its job names). */
  total(windowMs: number, queue: string): OutcomeSummary {
    const from = this.#now() - windowMs;
    const slices: Slice[] = [];
    for (const series of this.#series.values())
      if (series.queue === queue)
        slices.push(...series.slices.filter((slice) => slice.start + SLICE_MS > from));
    return summarize(slices);
  }

  /** How much of a window of this length the replica has seen. */
  coveredMs(windowMs: number): number {
    return Math.min(windowMs, this.#now() - this.startedAt);
  }

  #seriesOf(queue: string, name: string): Series {
    const key = `${queue}\u0000${name}`;
    let series = this.#series.get(key);
    if (series !== undefined) return series;
    if (this.#series.size >= MAX_SERIES) return this.#seriesOf(queue, "(other)");
    series = { queue, name, slices: [], errorClasses: new Set() };
    this.#series.set(key, series);
    return series;
  }

  #slice(series: Series, at: number): Slice {
    const start = at - (at % SLICE_MS);
    const last = series.slices.at(-1);
    if (last !== undefined && last.start === start) return last;
    const slice: Slice = {
      start,
      counts: emptyCounts(),
      duration: undefined,
      wait: undefined,
      errors: new Map(),
    };
    series.slices.push(slice);
    this.#prune(series);
    return slice;
  }

  #prune(series: Series): void {
    const oldest = this.#now() - MAX_WINDOW_MS - SLICE_MS;
    while ((series.slices[0]?.start ?? Number.POSITIVE_INFINITY) < oldest) series.slices.shift();
    if (series.slices.length === 0) this.#series.delete(`${series.queue}\u0000${series.name}`);
  }
}

function summarize(slices: readonly Slice[]): OutcomeSummary {
  const counts = emptyCounts();
  const duration = sketch();
  const wait = sketch();
  const errors = new Map<string, number>();
  for (const slice of slices) {
    for (const key of Object.keys(counts) as (keyof OutcomeCounts)[]) counts[key] += slice.counts[key];
    if (slice.duration !== undefined) duration.merge(slice.duration);
    if (slice.wait !== undefined) wait.merge(slice.wait);
    for (const [errorClass, count] of slice.errors)
      errors.set(errorClass, (errors.get(errorClass) ?? 0) + count);
  }
  const finished = counts.completed + counts.failed;
  return {
    ...counts,
    errorRate: finished === 0 ? null : round(counts.failed / finished, 4),
    durationMs: distribution(duration),
    waitMs: distribution(wait),
    errorClasses: [...errors]
      .map(([errorClass, count]) => ({ errorClass, count }))
      .sort((a, b) => b.count - a.count || a.errorClass.localeCompare(b.errorClass))
      .slice(0, TOP_ERROR_CLASSES),
  };
}

function distribution(values: DDSketch): Distribution | null {
  if (values.count === 0) return null;
  const at = (q: number) => round(values.getValueAtQuantile(q), 3);
  return { count: values.count, p50: at(0.5), p95: at(0.95), p99: at(0.99), max: round(values.max, 3) };
}

function boundedClass(series: Series, errorClass: string): string {
  if (series.errorClasses.has(errorClass)) return errorClass;
  if (series.errorClasses.size >= MAX_ERROR_CLASSES) return "other";
  series.errorClasses.add(errorClass);
  return errorClass;
}

function sketch(): DDSketch {
  return new DDSketch({ relativeAccuracy: RELATIVE_ACCURACY });
}

function emptyCounts(): OutcomeCounts {
  return { completed: 0, failed: 0, retried: 0, dead: 0, cancelled: 0 };
}

function isDuration(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value);
}

function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}
