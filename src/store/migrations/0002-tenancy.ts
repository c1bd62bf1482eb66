import type { Kysely } from 'kysely';
import type { SqlDialect } from './column-types.ts';

/**
 * Tenancy: tenants and their routing policy, managed API keys (hashes only), admin users, dashboard
 * sessions, and the settings version every node polls to invalidate its in-memory cache.
 * See docs/tenancy.md and docs/decisions/0010-tenancy-model.md.
 */
// biome-ignore lint/suspicious/noExplicitAny: migrations are frozen in time and must not follow today's Database type.
export async function up(db: Kysely<any>, _dialect: SqlDialect): Promise<void> {
  await db.schema
    .createTable('tenant')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('preset', 'text')
    .addColumn('utility_model', 'text')
    .addColumn('fast_model', 'text')
    .addColumn('deep_model', 'text')
    .addColumn('allowed_models', 'text')
    .addColumn('byok_provider', 'text')
    .addColumn('key_hmac', 'text', (c) => c.unique())
    .addColumn('links_valid_after', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('api_key')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenant.id').onDelete('cascade'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('prefix', 'text', (c) => c.notNull())
    .addColumn('hash', 'text', (c) => c.notNull().unique())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('revoked_at', 'bigint')
    .addColumn('expires_at', 'bigint')
    .addColumn('last_used_at', 'bigint')
    .addColumn('limits', 'text')
    .execute();
  await db.schema.createIndex('api_key_tenant').on('api_key').column('tenant_id').execute();

  await db.schema
    .createTable('admin_user')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('username', 'text', (c) => c.notNull().unique())
    .addColumn('password_hash', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('last_login_at', 'bigint')
    .execute();

  await db.schema
    .createTable('dashboard_session')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('tenant_id', 'text', (c) => c.references('tenant.id').onDelete('cascade'))
    .addColumn('admin_user_id', 'text', (c) => c.references('admin_user.id').onDelete('cascade'))
    .addColumn('csrf', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('dashboard_session_tenant').on('dashboard_session').column('tenant_id').execute();
  await db.schema.createIndex('dashboard_session_expires').on('dashboard_session').column('expires_at').execute();

  await db.schema
    .createTable('tenancy_settings')
    .addColumn('id', 'integer', (c) => c.primaryKey())
    .addColumn('version', 'bigint', (c) => c.notNull())
    .execute();
  await db.insertInto('tenancy_settings').values({ id: 1, version: 1 }).execute();
}

// biome-ignore lint/suspicious/noExplicitAny: see up().
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('tenancy_settings').execute();
  await db.schema.dropTable('dashboard_session').execute();
  await db.schema.dropTable('admin_user').execute();
  await db.schema.dropTable('api_key').execute();
  await db.schema.dropTable('tenant').execute();
}
