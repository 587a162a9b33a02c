// Summaries of sample arrays: percentiles for latency distributions, median and spread across runs.

/** The p-th percentile (0-100) of ascending-sorted values, interpolating between closest ranks. */
export function percentileOfSorted(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = (p / 100) * (sorted.length - 1);
  const low = Math.floor(rank);
  const high = Math.ceil(rank);
  const lowValue = sorted[low] as number;
  return lowValue + ((sorted[high] as number) - lowValue) * (rank - low);
}

export interface Summary {
  median: number;
  min: number;
  max: number;
  /** Interquartile range; with 3 runs it is half the min-max range, so read it with `runs`. */
  iqr: number;
  /** (max - min) / median: how far to trust a difference between two medians. */
  relativeSpread: number;
  runs: number;
}

export function summarize(values: ArrayLike<number>): Summary {
  const sorted = Float64Array.from(values).sort();
  const mid = percentileOfSorted(sorted, 50);
  const min = sorted[0] ?? Number.NaN;
  const max = sorted[sorted.length - 1] ?? Number.NaN;
  return {
    median: mid,
    min,
    max,
    iqr: percentileOfSorted(sorted, 75) - percentileOfSorted(sorted, 25),
    relativeSpread: (max - min) / mid,
    runs: sorted.length,
  };
}
