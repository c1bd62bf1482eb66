import type { Kysely } from 'kysely';
import { addIdColumn, type SqlDialect } from './column-types.ts';

/**
 * Webhook delivery (docs/executions.md, decision 0034): an outbox of messages written in the same transaction
 * as the state change they announce, every attempt at delivering them, and each tenant's signing secret
 * (sealed with AES-256-GCM, src/webhooks/signing-secrets.ts).
 *
 * `webhook_delivery.next_at` is both the retry schedule and the lease: a deliverer that claims a row moves
 * `next_at` a lease ahead and stamps its `lease_token`, so a row whose deliverer died becomes due again on
 * its own. Claims read the `(state, next_at)` index.
 */
// biome-ignore lint/suspicious/noExplicitAny: migrations are frozen in time and must not follow today's Database type.
export async function up(db: Kysely<any>, dialect: SqlDialect): Promise<void> {
  await db.schema
    .createTable('webhook_delivery')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('message_id', 'text', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('url', 'text', (c) => c.notNull())
    .addColumn('host', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('payload', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('manual', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('next_at', 'bigint', (c) => c.notNull())
    .addColumn('lease_token', 'text')
    .addColumn('last_status', 'integer')
    .addColumn('last_error', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addColumn('delivered_at', 'bigint')
    .execute();
  await db.schema
    .createIndex('webhook_delivery_message')
    .on('webhook_delivery')
    .columns(['tenant_id', 'message_id'])
    .unique()
    .execute();
  await db.schema.createIndex('webhook_delivery_due').on('webhook_delivery').columns(['state', 'next_at']).execute();
  await db.schema
    .createIndex('webhook_delivery_tenant')
    .on('webhook_delivery')
    .columns(['tenant_id', 'created_at'])
    .execute();
  await addIdColumn(db.schema.createTable('webhook_attempt'), 'id', 'bigint', dialect)
    .addColumn('delivery_id', 'text', (c) => c.notNull().references('webhook_delivery.id').onDelete('cascade'))
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('at', 'bigint', (c) => c.notNull())
    .addColumn('duration_ms', 'integer', (c) => c.notNull())
    .addColumn('status', 'integer')
    .addColumn('error', 'text')
    .addColumn('excerpt', 'text')
    .addColumn('manual', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema.createIndex('webhook_attempt_delivery').on('webhook_attempt').column('delivery_id').execute();
  await db.schema
    .createTable('webhook_secret')
    .addColumn('tenant_id', 'text', (c) => c.primaryKey())
    .addColumn('ciphertext', 'text', (c) => c.notNull())
    .addColumn('key_id', 'text', (c) => c.notNull())
    .addColumn('previous_ciphertext', 'text')
    .addColumn('previous_until', 'bigint')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('rotated_at', 'bigint')
    .execute();
}

// biome-ignore lint/suspicious/noExplicitAny: see up().
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('webhook_secret').execute();
  await db.schema.dropTable('webhook_attempt').execute();
  await db.schema.dropTable('webhook_delivery').execute();
}
