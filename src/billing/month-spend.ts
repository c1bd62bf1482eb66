import { CompiledQuery, type Kysely, type Transaction } from 'kysely';
import { multiRowInsertSql, placeholderStyle } from '../store/raw-insert.ts';
import type { Database } from '../store/schema.ts';
import { monthStart } from './amounts.ts';

/**
 * The cached month's spend (`ledger_month`, decision 0046): what each tenant's settlements charged in each UTC
 * calendar month, moved by every writer of `settle` entries in the transaction of those entries, as the
 * account's cached balance is. An entry counts in the month of its own `at`, so a batch that straddles the
 * first of a month adds to both months. Only `settle` entries count (refunds and adjustments move the balance,
 * not the spend the plan's cap is checked against), exactly what the in-memory figure counts.
 */

/** What `addMonthSpend` reads of an entry. */
export interface SpendEntry {
  tenant_id: string;
  at: number;
  kind: string;
  amount_nano: number;
}

const COLUMNS = ['tenant_id', 'month_start', 'spent_nano'];
const UPSERT =
  'on conflict ("tenant_id", "month_start") do update set "spent_nano" = "ledger_month"."spent_nano" + excluded."spent_nano"';

/**
 * Adds the settlements among `entries` to their tenants' months, in the caller's transaction: one multi-row
 * upsert per chunk, rows in (tenant, month) order. Call it after the transaction has moved (so, on PostgreSQL,
 * locked) the tenants' account rows: every writer touches a tenant's month rows only while holding its account
 * row, so these rows add no lock order of their own.
 */
export async function addMonthSpend(
  tx: Transaction<Database> | Kysely<Database>,
  entries: readonly SpendEntry[],
): Promise<void> {
  const sums = new Map<string, { tenant: string; month: number; spent: number }>();
  for (const e of entries) {
    if (e.kind !== 'settle' || e.amount_nano === 0) continue;
    const month = monthStart(e.at);
    const key = `${e.tenant_id}\u0000${month}`;
    const row = sums.get(key);
    if (row) row.spent -= e.amount_nano;
    else sums.set(key, { tenant: e.tenant_id, month, spent: -e.amount_nano });
  }
  if (sums.size === 0) return;
  const rows = [...sums.values()]
    .filter((r) => r.spent !== 0)
    .sort((x, y) => (x.tenant < y.tenant ? -1 : x.tenant > y.tenant ? 1 : x.month - y.month));
  const style = placeholderStyle(tx);
  // A few fixed statement sizes, so SQLite's statement cache keeps a handful of shapes (see fixedSizeChunks).
  let i = 0;
  for (const size of [128, 16, 4, 1]) {
    while (rows.length - i >= size) {
      const params: unknown[] = [];
      for (const r of rows.slice(i, i + size)) params.push(r.tenant, r.month, r.spent);
      await tx.executeQuery(CompiledQuery.raw(multiRowInsertSql('ledger_month', COLUMNS, size, style, UPSERT), params));
      i += size;
    }
  }
}
