import type { Kysely } from 'kysely';
import type { SqlDialect } from './column-types.ts';

/**
 * Channel groups (docs/channels.md): the groups allowed to use a channel, and the groups a tenant belongs to,
 * each a JSON array of group names. Null on a channel: every tenant may use it; null on a tenant: no groups.
 */
// biome-ignore lint/suspicious/noExplicitAny: migrations are frozen in time and must not follow today's Database type.
export async function up(db: Kysely<any>, _dialect: SqlDialect): Promise<void> {
  await db.schema.alterTable('channel').addColumn('groups', 'text').execute();
  await db.schema.alterTable('tenant').addColumn('groups', 'text').execute();
}

// biome-ignore lint/suspicious/noExplicitAny: see up().
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('tenant').dropColumn('groups').execute();
  await db.schema.alterTable('channel').dropColumn('groups').execute();
}
