import { type Kysely, sql } from 'kysely';
import type { SqlDialect } from './column-types.ts';

/**
 * The operator's side of money (docs/billing.md): a tenant can be suspended (its keys are refused on every
 * /v1 route), plans can be public (users pick among them), Stripe webhook events are kept by id (a replay
 * changes nothing), and each gateway process writes a heartbeat so the periodic sweep can tell the holds
 * of a live process from those of a dead one.
 */
// biome-ignore lint/suspicious/noExplicitAny: migrations are frozen in time and must not follow today's Database type.
export async function up(db: Kysely<any>, _dialect: SqlDialect): Promise<void> {
  await db.schema.alterTable('tenant').addColumn('suspended_at', 'bigint').execute();
  await db.schema.alterTable('tenant').addColumn('suspended_reason', 'text').execute();
  await db.schema
    .alterTable('plan')
    .addColumn('public', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema
    .createTable('stripe_event')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('received_at', 'bigint', (c) => c.notNull())
    .addColumn('outcome', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('ledger_node')
    .addColumn('node', 'text', (c) => c.primaryKey())
    .addColumn('seen_at', 'bigint', (c) => c.notNull())
    .execute();
  // The sweep reads the holds of one dead process: a partial index, holds only (about a third of the entries).
  await db.schema
    .createIndex('ledger_entry_hold_node')
    .on('ledger_entry')
    .columns(['node', 'id'])
    .where(sql.ref('kind'), '=', sql.lit('hold'))
    .execute();
}

// biome-ignore lint/suspicious/noExplicitAny: see up().
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('ledger_entry_hold_node').execute();
  await db.schema.dropTable('ledger_node').execute();
  await db.schema.dropTable('stripe_event').execute();
  await db.schema.alterTable('plan').dropColumn('public').execute();
  await db.schema.alterTable('tenant').dropColumn('suspended_reason').execute();
  await db.schema.alterTable('tenant').dropColumn('suspended_at').execute();
}
