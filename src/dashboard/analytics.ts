import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.ts';
import {
  type BreakdownRow,
  type LatencyPercentiles,
  queryBreakdown,
  queryLatencyPercentiles,
  querySpendOverTime,
  type SpendPoint,
} from '../store/usage-queries.ts';
import { HOUR_MS } from '../store/usage-rollup.ts';
import { emptyTotals, sumTotals, type UsageTotals } from '../store/usage-totals.ts';

/**
 * What the dashboards show, read from the hourly rollups only (src/store/usage-queries.ts), so a page
 * costs the same at a thousand requests as at millions. `tenantId` scopes every query; the client pages
 * always pass their session's tenant.
 */
export const RANGES = {
  '24h': { label: '24 hours', spanMs: 24 * HOUR_MS, bucket: 'hour' },
  '7d': { label: '7 days', spanMs: 7 * 24 * HOUR_MS, bucket: 'hour' },
  '30d': { label: '30 days', spanMs: 30 * 24 * HOUR_MS, bucket: 'day' },
} as const;

export type RangeKey = keyof typeof RANGES;

export interface Range {
  key: RangeKey;
  from: number;
  to: number;
  bucket: 'hour' | 'day';
  bucketMs: number;
}

export function rangeOf(key: unknown, now = Date.now()): Range {
  const k: RangeKey = typeof key === 'string' && key in RANGES ? (key as RangeKey) : '24h';
  const spec = RANGES[k];
  const bucketMs = spec.bucket === 'hour' ? HOUR_MS : 24 * HOUR_MS;
  // The current (partial) bucket is included: `to` is the end of it.
  const to = Math.floor(now / bucketMs) * bucketMs + bucketMs;
  return { key: k, from: to - spec.spanMs, to, bucket: spec.bucket, bucketMs };
}

export interface UsageView {
  range: Range;
  /** One point per bucket, oldest first, zeros where nothing happened. */
  series: SpendPoint[];
  totals: UsageTotals;
  byTier: BreakdownRow[];
  byModel: BreakdownRow[];
  byProvider: BreakdownRow[];
  latency: LatencyPercentiles;
}

export async function loadUsage(db: Kysely<Database>, range: Range, tenantId?: string): Promise<UsageView> {
  const scope = { from: range.from, to: range.to, ...(tenantId !== undefined ? { tenantId } : {}) };
  const [points, byTier, byModel, byProvider, latency] = await Promise.all([
    querySpendOverTime(db, { ...scope, bucket: range.bucket }),
    queryBreakdown(db, { ...scope, by: 'tier' }),
    queryBreakdown(db, { ...scope, by: 'model' }),
    queryBreakdown(db, { ...scope, by: 'provider' }),
    queryLatencyPercentiles(db, { ...scope, percentiles: [50, 90, 95, 99] }),
  ]);
  const byStart = new Map(points.map((p) => [p.start, p]));
  const series: SpendPoint[] = [];
  for (let start = range.from; start < range.to; start += range.bucketMs) {
    series.push(byStart.get(start) ?? { start, ...emptyTotals() });
  }
  return { range, series, totals: sumTotals(points), byTier, byModel, byProvider, latency };
}
