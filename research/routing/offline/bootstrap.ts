/** Percentile bootstrap: resample, recompute, read the 2.5% and 97.5% quantiles. */

export interface Interval {
  low: number;
  high: number;
}

export function percentileInterval(samples: readonly number[], level = 0.95): Interval {
  const sorted = samples.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (sorted.length === 0) return { low: Number.NaN, high: Number.NaN };
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.round(q * (sorted.length - 1))))]!;
  return { low: at((1 - level) / 2), high: at(1 - (1 - level) / 2) };
}

/** Indices 0..n-1 drawn n times with replacement. */
export function resampleIndices(n: number, random: () => number, out: Int32Array = new Int32Array(n)): Int32Array {
  for (let i = 0; i < n; i++) out[i] = Math.floor(random() * n);
  return out;
}
