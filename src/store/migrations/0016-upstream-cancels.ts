import type { Kysely } from 'kysely';
import type { SqlDialect } from './column-types.ts';

/**
 * Owed upstream cancels (decision 0045): when an execution ends FAILED or CANCELLED with a long-running provider
 * job still recorded on its row, the terminal transaction takes the job off the row and writes one row here, so the
 * cancel exists exactly when the terminal state does and survives a stop, `kill -9` or a crash before the call.
 * Workers of any process claim due rows (`state = 'pending' and next_at <= now`, the `(state, next_at)` index) by
 * moving `next_at` a lease ahead under a fresh `lease_token`, as the webhook outbox does (migration 0012); `job` is
 * the row's JSON `{ provider, model, key, id, createdAt }` with the provider key's id, never its secret.
 */
// biome-ignore lint/suspicious/noExplicitAny: migrations are frozen in time and must not follow today's Database type.
export async function up(db: Kysely<any>, _dialect: SqlDialect): Promise<void> {
  await db.schema
    .createTable('upstream_cancel')
    .addColumn('execution_id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('job', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('tries', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('next_at', 'bigint', (c) => c.notNull())
    .addColumn('lease_token', 'text')
    .addColumn('last_code', 'text')
    .addColumn('last_status', 'integer')
    .addColumn('last_error', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('upstream_cancel_due').on('upstream_cancel').columns(['state', 'next_at']).execute();
}

// biome-ignore lint/suspicious/noExplicitAny: see up().
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('upstream_cancel').execute();
}
