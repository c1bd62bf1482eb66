import { type Kysely, sql } from 'kysely';
import type { SqlDialect } from './column-types.ts';

/**
 * The month's spend of each billed tenant as a cached figure (decision 0046): `ledger_month` holds, per tenant
 * and UTC calendar month (`month_start`, ms), the sum of its `settle` entries' charges (`-amount_nano`) whose
 * `at` falls in that month. Every writer of settlements moves it in the transaction of the entries, like
 * `account.balance_nano`, so a cold account's load reads one row instead of summing the month's entries, and
 * `modro ledger verify` proves it equals the sums. Backfilled here from the entries already written.
 */
// biome-ignore lint/suspicious/noExplicitAny: migrations are frozen in time and must not follow today's Database type.
export async function up(db: Kysely<any>, dialect: SqlDialect): Promise<void> {
  await db.schema
    .createTable('ledger_month')
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('month_start', 'bigint', (c) => c.notNull())
    .addColumn('spent_nano', 'bigint', (c) => c.notNull().defaultTo(0))
    .addPrimaryKeyConstraint('ledger_month_pk', ['tenant_id', 'month_start'])
    .execute();
  await backfillLedgerMonths(db, dialect);
}

/**
 * Sums every `settle` entry into `ledger_month` by tenant and the UTC month of its `at` (the table must be
 * empty). In SQL, one statement: the month's start computed by the database the way `monthStart` (billing/
 * amounts.ts) computes it.
 */
// biome-ignore lint/suspicious/noExplicitAny: see up().
export async function backfillLedgerMonths(db: Kysely<any>, dialect: SqlDialect): Promise<void> {
  const month =
    dialect === 'postgres'
      ? sql`cast(extract(epoch from date_trunc('month', to_timestamp(at / 1000) at time zone 'UTC')) as bigint) * 1000`
      : sql`cast(strftime('%s', at / 1000, 'unixepoch', 'start of month') as integer) * 1000`;
  await sql`
    insert into ledger_month (tenant_id, month_start, spent_nano)
    select tenant_id, m, sum(charge) from (
      select tenant_id, ${month} as m, -amount_nano as charge from ledger_entry where kind = 'settle'
    ) s
    group by tenant_id, m`.execute(db);
}

// biome-ignore lint/suspicious/noExplicitAny: see up().
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('ledger_month').execute();
}
