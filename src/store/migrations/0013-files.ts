import type { Kysely } from 'kysely';
import type { SqlDialect } from './column-types.ts';

/**
 * Tenants' files (docs/files.md): one row per stored file, its bytes on disk under a path derived from the id
 * alone. Listed per tenant newest first (the tenant index), swept by expiry.
 */
// biome-ignore lint/suspicious/noExplicitAny: migrations are frozen in time and must not follow today's Database type.
export async function up(db: Kysely<any>, _dialect: SqlDialect): Promise<void> {
  await db.schema
    .createTable('stored_file')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('purpose', 'text', (c) => c.notNull())
    .addColumn('filename', 'text')
    .addColumn('content_type', 'text', (c) => c.notNull())
    .addColumn('bytes', 'bigint', (c) => c.notNull())
    .addColumn('sha256', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint')
    .execute();
  await db.schema
    .createIndex('stored_file_tenant_created')
    .on('stored_file')
    .columns(['tenant_id', 'created_at', 'id'])
    .execute();
  // The quota's sum of a tenant's bytes reads this index alone.
  await db.schema.createIndex('stored_file_tenant_bytes').on('stored_file').columns(['tenant_id', 'bytes']).execute();
  await db.schema.createIndex('stored_file_expires').on('stored_file').column('expires_at').execute();
}

// biome-ignore lint/suspicious/noExplicitAny: see up().
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('stored_file').execute();
}
