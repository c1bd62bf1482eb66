import type { Kysely } from 'kysely';
import type { SqlDialect } from './column-types.ts';

/**
 * Keys are looked up one at a time on first use (src/tenancy/directory.ts), by the hash of their secret or of
 * a rotated key's previous secret: `api_key.hash` is unique (indexed) already, `previous_hash` gets an index
 * here so that lookup stays two index probes at any number of keys.
 */
// biome-ignore lint/suspicious/noExplicitAny: migrations are frozen in time and must not follow today's Database type.
export async function up(db: Kysely<any>, _dialect: SqlDialect): Promise<void> {
  await db.schema.createIndex('api_key_previous_hash').on('api_key').column('previous_hash').execute();
}

// biome-ignore lint/suspicious/noExplicitAny: see up().
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('api_key_previous_hash').execute();
}
