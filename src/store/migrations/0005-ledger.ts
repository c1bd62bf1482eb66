import type { Kysely } from 'kysely';
import { addIdColumn, type SqlDialect } from './column-types.ts';

/**
 * Money (docs/billing.md, decision 0025): plans, the billed accounts (a tenant with an `account` row is billed;
 * its cached balance and amount held are the sums of its ledger entries) and the append-only ledger in integer nano-dollars.
 * Each entry moves the balance by `amount_nano` and the held amount by `held_nano`; a hold, its settle and its
 * release share `hold_id` (the request id), unique per kind so a hold is closed at most once.
 */
// biome-ignore lint/suspicious/noExplicitAny: migrations are frozen in time and must not follow today's Database type.
export async function up(db: Kysely<any>, dialect: SqlDialect): Promise<void> {
  await db.schema
    .createTable('plan')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('monthly_cap_nano', 'bigint')
    .addColumn('models', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('account')
    .addColumn('tenant_id', 'text', (c) => c.primaryKey())
    .addColumn('plan_id', 'text')
    .addColumn('balance_nano', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('held_nano', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await addIdColumn(db.schema.createTable('ledger_entry'), 'id', 'bigint', dialect)
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('at', 'bigint', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('amount_nano', 'bigint', (c) => c.notNull())
    .addColumn('held_nano', 'bigint', (c) => c.notNull())
    .addColumn('hold_id', 'text')
    .addColumn('key_id', 'text')
    .addColumn('request_id', 'text')
    .addColumn('payment_id', 'text')
    .addColumn('admin', 'text')
    .addColumn('reason', 'text')
    .addColumn('node', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('ledger_entry_tenant').on('ledger_entry').columns(['tenant_id', 'id']).execute();
  await db.schema.createIndex('ledger_entry_hold').on('ledger_entry').columns(['hold_id', 'kind']).unique().execute();
}

// biome-ignore lint/suspicious/noExplicitAny: see up().
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('ledger_entry').execute();
  await db.schema.dropTable('account').execute();
  await db.schema.dropTable('plan').execute();
}
