import type { Kysely } from 'kysely';
import type { SqlDialect } from './column-types.ts';

/**
 * Channels (docs/channels.md): upstream provider connections managed at runtime, and their credentials,
 * each sealed with AES-256-GCM under a master key kept outside the database (src/channels/master-key.ts).
 * `channel_revision` is one row whose number every write bumps, so a gateway notices a change made elsewhere
 * (the CLI, another node) with one cheap read.
 */
// biome-ignore lint/suspicious/noExplicitAny: migrations are frozen in time and must not follow today's Database type.
export async function up(db: Kysely<any>, _dialect: SqlDialect): Promise<void> {
  await db.schema
    .createTable('channel')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('base_url', 'text')
    .addColumn('models', 'text')
    .addColumn('include_known_models', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('options', 'text', (c) => c.notNull())
    .addColumn('priority', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('weight', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('enabled', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('channel_credential')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('channel_id', 'text', (c) => c.notNull().references('channel.id').onDelete('cascade'))
    .addColumn('label', 'text')
    .addColumn('ciphertext', 'text', (c) => c.notNull())
    .addColumn('key_id', 'text', (c) => c.notNull())
    .addColumn('last4', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('rotate_by', 'bigint')
    .addColumn('state_changed_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('channel_credential_channel').on('channel_credential').column('channel_id').execute();
  await db.schema
    .createTable('channel_revision')
    .addColumn('id', 'integer', (c) => c.primaryKey())
    .addColumn('revision', 'bigint', (c) => c.notNull())
    .execute();
  await db.insertInto('channel_revision').values({ id: 1, revision: 0 }).execute();
}

// biome-ignore lint/suspicious/noExplicitAny: see up().
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('channel_revision').execute();
  await db.schema.dropTable('channel_credential').execute();
  await db.schema.dropTable('channel').execute();
}
