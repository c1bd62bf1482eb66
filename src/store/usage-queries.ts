import { type Kysely, type RawBuilder, type SelectQueryBuilder, sql } from 'kysely';
import { findDimId, resolveDimIds } from './interning.ts';
import { estimatePercentile, LATENCY_BUCKET_COLUMNS } from './latency-buckets.ts';
import type { Database } from './schema.ts';
import { rowsToRecords, toSafeInt, type UsageRecord } from './usage.ts';
import { HOUR_MS } from './usage-rollup.ts';
import { type SummedTotal, TOTAL_COLUMNS, totalsOf, type UsageTotals } from './usage-totals.ts';

/**
 * What a dashboard reads. Everything but the request list reads the hourly rollups, never raw rows, so
 * the cost of a query depends on the number of hours x dimensions, not on the number of requests.
 *
 * Time ranges are in ms and hour-aligned: an hour counts when its start lies in [floor(from to the hour), to).
 * Days are UTC days.
 */

export interface TimeRange {
  from: number;
  to: number;
}

export interface SpendPoint extends UsageTotals {
  /** Start of the bucket, ms. */
  start: number;
}

/** Sums per hour or per UTC day, oldest first; buckets without requests are absent. */
export async function querySpendOverTime(
  db: Kysely<Database>,
  options: TimeRange & { tenantId?: string; bucket: 'hour' | 'day' },
): Promise<SpendPoint[]> {
  const base = await hourlyIn(db, options);
  if (!base) return [];
  const start =
    options.bucket === 'hour'
      ? sql<number>`${sql.ref('hour_start')}`
      : sql<number>`${sql.ref('hour_start')} - (${sql.ref('hour_start')} % ${sql.lit(24 * HOUR_MS)})`;
  const rows = await base
    .select([start.as('start'), ...totalsSelection()])
    .groupBy(start)
    .orderBy(start)
    .execute();
  return rows.map((row) => ({ start: toSafeInt(row.start), ...toTotals(row) }));
}

export interface BreakdownRow extends UsageTotals {
  /** The model, tier or provider id; null for requests that had none (e.g. rejected before routing). */
  key: string | null;
}

const BREAKDOWN_COLUMNS = { model: 'model_id', tier: 'tier_id', provider: 'provider_id' } as const;

/** Sums per model, tier or provider, most expensive first. */
export async function queryBreakdown(
  db: Kysely<Database>,
  options: TimeRange & { tenantId?: string; by: 'model' | 'tier' | 'provider' },
): Promise<BreakdownRow[]> {
  const base = await hourlyIn(db, options);
  if (!base) return [];
  const column = BREAKDOWN_COLUMNS[options.by];
  const rows = await base
    .select([sql<number>`${sql.ref(column)}`.as('key_id'), ...totalsSelection()])
    .groupBy(column)
    .orderBy('costNanoUsd', 'desc')
    .orderBy('requests', 'desc')
    .execute();
  const names = await resolveDimIds(
    db,
    rows.map((r) => toSafeInt(r.key_id)),
  );
  return rows.map((row) => ({ key: names.get(toSafeInt(row.key_id)) ?? null, ...toTotals(row) }));
}

export interface TenantTotals extends UsageTotals {
  tenantId: string;
}

/** The tenants that spent the most (then made the most requests) in the range. */
export async function queryTopTenants(
  db: Kysely<Database>,
  options: TimeRange & { limit?: number },
): Promise<TenantTotals[]> {
  const base = await hourlyIn(db, options);
  if (!base) return [];
  const rows = await base
    .select(['tenant_id', ...totalsSelection()])
    .groupBy('tenant_id')
    .orderBy('costNanoUsd', 'desc')
    .orderBy('requests', 'desc')
    .orderBy('tenant_id')
    .limit(options.limit ?? 10)
    .execute();
  const names = await resolveDimIds(
    db,
    rows.map((r) => r.tenant_id),
  );
  return rows.map((row) => ({ tenantId: names.get(row.tenant_id) ?? '', ...toTotals(row) }));
}

export interface LatencyPercentiles {
  /** Requests counted. */
  count: number;
  /** Exact mean (from the latency sums); null without requests. */
  meanMs: number | null;
  /** Estimated from the fixed histogram buckets (see latency-buckets.ts); null without requests. */
  percentiles: { p: number; ms: number | null }[];
  /** Raw bucket counts, for a histogram chart. */
  buckets: number[];
}

/**
 * End-to-end latency percentiles. By default only successful requests count: a rejected request answers
 * in a millisecond and would drag every percentile down.
 */
export async function queryLatencyPercentiles(
  db: Kysely<Database>,
  options: TimeRange & { tenantId?: string; modelId?: string; percentiles?: number[]; successOnly?: boolean },
): Promise<LatencyPercentiles> {
  const ps = options.percentiles ?? [50, 90, 95, 99];
  const empty: LatencyPercentiles = {
    count: 0,
    meanMs: null,
    percentiles: ps.map((p) => ({ p, ms: null })),
    buckets: LATENCY_BUCKET_COLUMNS.map(() => 0),
  };
  let base = await hourlyIn(db, options);
  if (!base) return empty;
  if (options.modelId !== undefined) {
    const modelId = await findDimId(db, options.modelId);
    if (modelId === undefined) return empty;
    base = base.where('model_id', '=', modelId);
  }
  if (options.successOnly ?? true) base = base.where('status_class', '=', 2);
  const row = await base
    .select([
      sumOf('requests').as('requests'),
      sumOf('latency_ms_sum').as('latency_ms_sum'),
      ...LATENCY_BUCKET_COLUMNS.map((c) => sumOf(c).as(c)),
    ])
    .executeTakeFirst();
  // SUM over no rows is NULL.
  if (!row || row.requests === null) return empty;
  const count = toSafeInt(row.requests);
  if (count === 0) return empty;
  const buckets = LATENCY_BUCKET_COLUMNS.map((c) => toSafeInt(row[c]));
  return {
    count,
    meanMs: toSafeInt(row.latency_ms_sum) / count,
    percentiles: ps.map((p) => ({ p, ms: estimatePercentile(buckets, p) })),
    buckets,
  };
}

/** A tenant's latest requests, newest first, from the raw rows (index on tenant, time). */
export async function queryRecentRequests(
  db: Kysely<Database>,
  options: { tenantId: string; limit?: number; before?: number },
): Promise<UsageRecord[]> {
  const tenantId = await findDimId(db, options.tenantId);
  if (tenantId === undefined) return [];
  let query = db.selectFrom('usage_record').selectAll().where('tenant_id', '=', tenantId);
  if (options.before !== undefined) query = query.where('at', '<', options.before);
  const rows = await query
    .orderBy('at', 'desc')
    .orderBy('id', 'desc')
    .limit(options.limit ?? 50)
    .execute();
  return rowsToRecords(db, rows);
}

/** One request by id (unique index), or undefined. */
export async function findUsageRecord(db: Kysely<Database>, requestId: string): Promise<UsageRecord | undefined> {
  const rows = await db.selectFrom('usage_record').selectAll().where('request_id', '=', requestId).execute();
  return (await rowsToRecords(db, rows))[0];
}

async function hourlyIn(
  db: Kysely<Database>,
  options: TimeRange & { tenantId?: string },
): Promise<SelectQueryBuilder<Database, 'usage_hourly', object> | undefined> {
  let query = db
    .selectFrom('usage_hourly')
    .where('hour_start', '>=', Math.floor(options.from / HOUR_MS) * HOUR_MS)
    .where('hour_start', '<', options.to);
  if (options.tenantId !== undefined) {
    const tenantId = await findDimId(db, options.tenantId);
    if (tenantId === undefined) return undefined;
    query = query.where('tenant_id', '=', tenantId);
  }
  return query;
}

/** SUM of a BIGINT column; cast back so PostgreSQL returns BIGINT instead of NUMERIC. */
function sumOf(column: string): RawBuilder<number | null> {
  return sql<number | null>`cast(sum(${sql.ref(column)}) as bigint)`;
}

const TOTALS = Object.keys(TOTAL_COLUMNS) as (keyof typeof TOTAL_COLUMNS)[];

/** The SUM of every total's rollup column, named like the total; errors count the requests of status 4xx and 5xx. */
function totalsSelection() {
  return [
    sql<number>`cast(sum(case when ${sql.ref('status_class')} >= 4 then ${sql.ref('requests')} else 0 end) as bigint)`.as(
      'errors',
    ),
    ...TOTALS.map((total) => sumOf(TOTAL_COLUMNS[total]).as(total)),
  ];
}

function toTotals(row: Record<SummedTotal, unknown>): UsageTotals {
  return totalsOf((total) => (row[total] === null ? 0 : toSafeInt(row[total])));
}
