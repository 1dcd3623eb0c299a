/** Nearest-rank percentile of an ascending array; NaN when empty. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

export interface LatencySummary {
  samples: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** Summary of latencies given in µs (the array is sorted in place). */
export function summarizeUs(values: Float64Array): LatencySummary {
  values.sort();
  return {
    samples: values.length,
    p50Ms: percentile(values, 50) / 1e3,
    p99Ms: percentile(values, 99) / 1e3,
    maxMs: values.length ? values[values.length - 1]! / 1e3 : NaN,
  };
}
