import type { UsageHourlySums } from './schema.ts';
import type { UsageRecord } from './usage.ts';

/**
 * Usage totals, summed in one place. TOTAL_COLUMNS says which rollup column holds each total; the rollup
 * writer (usage-rollup.ts) adds records into those columns, the dashboard queries (usage-queries.ts) SUM
 * them, and sumTotals adds totals already read (a range from its buckets). A new counter is one line here
 * plus its column.
 */
export interface UsageTotals extends Pick<UsageRecord, (typeof RECORD_COUNTERS)[number]> {
  requests: number;
  /** Requests answered with a 4xx or 5xx (counted from the rollups' status class, not a column of its own). */
  errors: number;
  latencyMsSum: number;
  /** latencyMsSum / requests; 0 when there are no requests. */
  avgLatencyMs: number;
}

/** A summed total, by its name in UsageTotals. */
export type SummedTotal = Exclude<keyof UsageTotals, 'avgLatencyMs'>;

/** The counters a usage record adds to its totals as they are (requests counts records, latencyMsSum adds latencyMs). */
export const RECORD_COUNTERS = [
  'attempts',
  'inputTokens',
  'cachedInputTokens',
  'cacheWriteTokens',
  'outputTokens',
  'reasoningTokens',
  'costNanoUsd',
] as const satisfies readonly (keyof UsageRecord)[];

/** Each total but errors, and the rollup column that holds it. */
export const TOTAL_COLUMNS = {
  requests: 'requests',
  attempts: 'attempts',
  inputTokens: 'input_tokens',
  cachedInputTokens: 'cached_input_tokens',
  cacheWriteTokens: 'cache_write_tokens',
  outputTokens: 'output_tokens',
  reasoningTokens: 'reasoning_tokens',
  costNanoUsd: 'cost_nano_usd',
  latencyMsSum: 'latency_ms_sum',
} as const satisfies Record<Exclude<SummedTotal, 'errors'>, keyof UsageHourlySums>;

const SUMMED: readonly SummedTotal[] = ['errors', ...(Object.keys(TOTAL_COLUMNS) as SummedTotal[])];

/** Totals from a value per summed total; the average is derived, never summed. */
export function totalsOf(sum: (total: SummedTotal) => number): UsageTotals {
  const out = { avgLatencyMs: 0 } as UsageTotals;
  for (const total of SUMMED) out[total] = sum(total);
  out.avgLatencyMs = out.requests === 0 ? 0 : out.latencyMsSum / out.requests;
  return out;
}

export function emptyTotals(): UsageTotals {
  return totalsOf(() => 0);
}

export function sumTotals(rows: readonly UsageTotals[]): UsageTotals {
  return totalsOf((total) => {
    let sum = 0;
    for (const row of rows) sum += row[total];
    return sum;
  });
}
