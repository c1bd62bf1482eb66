import type { Kysely } from 'kysely';
import type { SqlDialect } from './column-types.ts';

/**
 * Idempotency keys (docs/idempotency.md, decision 0035): one row per tenant and key, taken by the first
 * request (the primary key makes two takers impossible, across processes), then holding its final response.
 */
// biome-ignore lint/suspicious/noExplicitAny: migrations are frozen in time and must not follow today's Database type.
export async function up(db: Kysely<any>, _dialect: SqlDialect): Promise<void> {
  await db.schema
    .createTable('idempotency_key')
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('fingerprint', 'text', (c) => c.notNull())
    // Random per taker: only the request that holds the key may finish or release it.
    .addColumn('owner', 'text', (c) => c.notNull())
    // null while the first request runs; then its response.
    .addColumn('status', 'integer')
    .addColumn('headers', 'text')
    .addColumn('body', 'text')
    // While in progress: after this the taker is presumed dead and the key may be taken over.
    .addColumn('locked_until', 'bigint')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('idempotency_key_pk', ['tenant_id', 'key'])
    .execute();
  await db.schema.createIndex('idempotency_key_expires').on('idempotency_key').column('expires_at').execute();
}

// biome-ignore lint/suspicious/noExplicitAny: see up().
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('idempotency_key').execute();
}
