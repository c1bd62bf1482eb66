import type { Kysely } from 'kysely';
import type { SqlDialect } from './column-types.ts';

/**
 * Stored responses of the Responses API (docs/responses.md): one row per stored answer, the conversation
 * up to and including it as internal-representation messages (JSON text), and the Response object as it was
 * answered (JSON text). Rows are read by id and tenant, and pruned by expiry.
 */
// biome-ignore lint/suspicious/noExplicitAny: migrations are frozen in time and must not follow today's Database type.
export async function up(db: Kysely<any>, _dialect: SqlDialect): Promise<void> {
  await db.schema
    .createTable('stored_response')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('messages', 'text', (c) => c.notNull())
    .addColumn('response', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('stored_response_expires').on('stored_response').column('expires_at').execute();
}

// biome-ignore lint/suspicious/noExplicitAny: see up().
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('stored_response').execute();
}
