import type { Kysely } from 'kysely';

/**
 * Self-service accounts (docs/accounts.md): the sign-in of a tenant that signed up at /console (its email,
 * scrypt password hash, when the email was verified), and the single-use tokens of the links mailed to it
 * (verification, password reset, change of email), stored as SHA-256 only.
 */
// biome-ignore lint/suspicious/noExplicitAny: migrations are frozen in time and must not follow today's Database type.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('account_login')
    .addColumn('tenant_id', 'text', (c) => c.primaryKey())
    .addColumn('email', 'text', (c) => c.notNull().unique())
    .addColumn('password_hash', 'text', (c) => c.notNull())
    .addColumn('verified_at', 'bigint')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('account_token')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('purpose', 'text', (c) => c.notNull())
    .addColumn('email', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('used_at', 'bigint')
    .execute();
  await db.schema.createIndex('account_token_tenant').on('account_token').columns(['tenant_id', 'purpose']).execute();
}

// biome-ignore lint/suspicious/noExplicitAny: see up().
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('account_token').execute();
  await db.schema.dropTable('account_login').execute();
}
