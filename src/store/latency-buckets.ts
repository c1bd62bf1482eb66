/**
 * Fixed latency histogram bounds (ms) for the hourly rollups. Fixed, so that buckets of different hours,
 * tenants and models add up column by column, and percentiles can be estimated from rollups alone.
 * Doubling bounds keep every estimate within a factor of two of the truth, from fast cache hits (25 ms)
 * to long reasoning calls (~100 s); a 14th bucket counts everything above the last bound.
 *
 * Changing these bounds needs a migration that adds columns; never reinterpret existing ones.
 */
export const LATENCY_BUCKET_BOUNDS_MS = [
  25, 50, 100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 51200, 102400,
] as const;

export const LATENCY_BUCKET_COUNT = LATENCY_BUCKET_BOUNDS_MS.length + 1;

export type LatencyBucketColumn =
  | 'lat_b0'
  | 'lat_b1'
  | 'lat_b2'
  | 'lat_b3'
  | 'lat_b4'
  | 'lat_b5'
  | 'lat_b6'
  | 'lat_b7'
  | 'lat_b8'
  | 'lat_b9'
  | 'lat_b10'
  | 'lat_b11'
  | 'lat_b12'
  | 'lat_b13';

/** Column `lat_b<i>` counts latencies in (bound[i-1], bound[i]]; the last one counts those above every bound. */
export const LATENCY_BUCKET_COLUMNS: readonly LatencyBucketColumn[] = Array.from(
  { length: LATENCY_BUCKET_COUNT },
  (_, i) => `lat_b${i}` as LatencyBucketColumn,
);

export function latencyBucketIndex(latencyMs: number): number {
  for (let i = 0; i < LATENCY_BUCKET_BOUNDS_MS.length; i++) {
    if (latencyMs <= (LATENCY_BUCKET_BOUNDS_MS[i] as number)) return i;
  }
  return LATENCY_BUCKET_BOUNDS_MS.length;
}

/**
 * Estimates the p-th percentile (0..100) from bucket counts by linear interpolation inside the bucket that
 * holds the rank. Past the last bound there is nothing to interpolate to, so that bucket reports its lower
 * bound (read it as "at least"). Returns null when there are no samples.
 */
export function estimatePercentile(counts: readonly number[], p: number): number | null {
  const total = counts.reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  const rank = (Math.min(Math.max(p, 0), 100) / 100) * total;
  let before = 0;
  for (let i = 0; i < counts.length; i++) {
    const n = counts[i] ?? 0;
    if (n > 0 && before + n >= rank) {
      const lower = i === 0 ? 0 : (LATENCY_BUCKET_BOUNDS_MS[i - 1] as number);
      const upper = LATENCY_BUCKET_BOUNDS_MS[i];
      if (upper === undefined) return lower;
      return Math.round(lower + ((upper - lower) * (rank - before)) / n);
    }
    before += n;
  }
  return LATENCY_BUCKET_BOUNDS_MS[LATENCY_BUCKET_BOUNDS_MS.length - 1] as number;
}
