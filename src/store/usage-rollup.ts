import { CompiledQuery, type Insertable, type Kysely } from 'kysely';
import { LATENCY_BUCKET_COLUMNS, latencyBucketIndex } from './latency-buckets.ts';
import { multiRowInsertSql, placeholderStyle } from './raw-insert.ts';
import {
  type Database,
  USAGE_HOURLY_KEY_COLUMNS,
  USAGE_HOURLY_SUM_COLUMNS,
  type UsageHourlyKey,
  type UsageHourlyTable,
} from './schema.ts';
import type { DimIds, UsageRecord } from './usage.ts';
import { RECORD_COUNTERS, TOTAL_COLUMNS } from './usage-totals.ts';
import { yieldToEventLoop } from './yield.ts';

export const HOUR_MS = 3_600_000;

/** Bounded like the raw inserts (see usage.ts); ~32 parameters a row stay below both databases' limits. */
const ROWS_PER_STATEMENT = 200;

type HourlyRow = Insertable<UsageHourlyTable> & UsageHourlyTable;

/**
 * Adds records to the hourly rollups. Records are summed per key in memory first (one statement may not
 * update the same row twice on PostgreSQL), then upserted in key order, so concurrent writers (several
 * gateway processes on one PostgreSQL) lock rollup rows in the same order and cannot deadlock.
 */
export async function upsertHourlyRollups(
  trx: Kysely<Database>,
  records: readonly UsageRecord[],
  ids: DimIds,
): Promise<void> {
  const rows = aggregateHourly(records, ids);
  if (rows.length === 0) return;
  const style = placeholderStyle(trx);
  for (let i = 0; i < rows.length; i += ROWS_PER_STATEMENT) {
    await yieldToEventLoop();
    const chunk = rows.slice(i, i + ROWS_PER_STATEMENT);
    const params: unknown[] = [];
    for (const row of chunk) for (const column of ROLLUP_COLUMNS) params.push(row[column]);
    await trx.executeQuery(
      CompiledQuery.raw(multiRowInsertSql('usage_hourly', ROLLUP_COLUMNS, chunk.length, style, UPSERT_SUFFIX), params),
    );
  }
}

/** The upsert runs on every batch: plain cached SQL like the raw-row insert (see raw-insert.ts). */
const ROLLUP_COLUMNS = [...USAGE_HOURLY_KEY_COLUMNS, ...USAGE_HOURLY_SUM_COLUMNS, ...LATENCY_BUCKET_COLUMNS] as const;
const ADDED_COLUMNS = [...USAGE_HOURLY_SUM_COLUMNS, ...LATENCY_BUCKET_COLUMNS];
const UPSERT_SUFFIX = `on conflict (${USAGE_HOURLY_KEY_COLUMNS.map((c) => `"${c}"`).join(', ')}) do update set ${ADDED_COLUMNS.map((c) => `"${c}" = "usage_hourly"."${c}" + "excluded"."${c}"`).join(', ')}`;

function aggregateHourly(records: readonly UsageRecord[], ids: DimIds): HourlyRow[] {
  const byKey = new Map<string, HourlyRow>();
  for (const r of records) {
    const key: UsageHourlyKey = {
      hour_start: Math.floor(r.at / HOUR_MS) * HOUR_MS,
      tenant_id: idOrZero(ids, r.tenantId),
      model_id: idOrZero(ids, r.modelId),
      provider_id: idOrZero(ids, r.providerId),
      tier_id: idOrZero(ids, r.tier),
      status_class: Math.floor(r.status / 100),
      error_code_id: idOrZero(ids, r.errorCode),
    };
    const k = USAGE_HOURLY_KEY_COLUMNS.map((c) => key[c]).join(':');
    let row = byKey.get(k);
    if (!row) {
      row = { ...key, ...emptySums() };
      byKey.set(k, row);
    }
    row.requests += 1;
    for (const counter of RECORD_COUNTERS) row[TOTAL_COLUMNS[counter]] += r[counter];
    row.latency_ms_sum += r.latencyMs;
    if (r.ttfbMs !== null) {
      row.ttfb_ms_sum += r.ttfbMs;
      row.ttfb_count += 1;
    }
    const bucket = LATENCY_BUCKET_COLUMNS[latencyBucketIndex(r.latencyMs)];
    if (bucket !== undefined) row[bucket] += 1;
  }
  return [...byKey.values()].sort(compareKeys);
}

function idOrZero(ids: DimIds, value: string | null): number {
  if (value === null) return 0;
  const id = ids.get(value);
  if (id === undefined) throw new Error('usage: a string was not interned');
  return id;
}

function emptySums(): Omit<UsageHourlyTable, keyof UsageHourlyKey> {
  const sums = Object.fromEntries([...USAGE_HOURLY_SUM_COLUMNS, ...LATENCY_BUCKET_COLUMNS].map((c) => [c, 0]));
  return sums as Omit<UsageHourlyTable, keyof UsageHourlyKey>;
}

function compareKeys(a: UsageHourlyKey, b: UsageHourlyKey): number {
  for (const c of USAGE_HOURLY_KEY_COLUMNS) {
    if (a[c] !== b[c]) return a[c] - b[c];
  }
  return 0;
}
