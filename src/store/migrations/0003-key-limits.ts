import type { Kysely } from 'kysely';
import type { SqlDialect } from './column-types.ts';

/**
 * Per-key limits (docs/limits.md): a rotated key's previous secret stays valid until `previous_valid_until`
 * (its SHA-256 in `previous_hash`), and a key's spend per period is summed from usage_record by key and time.
 */
// biome-ignore lint/suspicious/noExplicitAny: migrations are frozen in time and must not follow today's Database type.
export async function up(db: Kysely<any>, _dialect: SqlDialect): Promise<void> {
  await db.schema.alterTable('api_key').addColumn('previous_hash', 'text').execute();
  await db.schema.alterTable('api_key').addColumn('previous_valid_until', 'bigint').execute();
  await db.schema.createIndex('usage_record_key_at').on('usage_record').columns(['key_id', 'at']).execute();
}

// biome-ignore lint/suspicious/noExplicitAny: see up().
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('usage_record_key_at').execute();
  await db.schema.alterTable('api_key').dropColumn('previous_valid_until').execute();
  await db.schema.alterTable('api_key').dropColumn('previous_hash').execute();
}
