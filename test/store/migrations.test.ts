import assert from 'node:assert/strict';
import { it } from 'node:test';
import { sql } from 'kysely';
import { migrateToLatest, migrationNames } from '../../src/store/migrations/index.ts';
import { forEachDatabase } from '../helpers/databases.ts';

forEachDatabase('store migrations', (suite) => {
  it('creates every table and records each migration once', async () => {
    const { store, config } = await suite.fresh();
    const tables = (await store.db.introspection.getTables())
      .filter((t) => config.kind === 'sqlite' || t.schema === config.schema)
      .map((t) => t.name)
      .sort();
    assert.deepEqual(tables, [
      'account',
      'account_login',
      'account_token',
      'admin_user',
      'api_key',
      'channel',
      'channel_credential',
      'channel_revision',
      'dashboard_session',
      'execution',
      'idempotency_key',
      'ledger_entry',
      'ledger_month',
      'ledger_node',
      'plan',
      'stored_file',
      'stored_response',
      'stripe_event',
      'tenancy_settings',
      'tenant',
      'upstream_cancel',
      'usage_dim',
      'usage_hourly',
      'usage_record',
      'webhook_attempt',
      'webhook_delivery',
      'webhook_secret',
    ]);
    const applied = await sql<{ name: string }>`select name from kysely_migration order by name`.execute(store.db);
    assert.deepEqual(
      applied.rows.map((r) => r.name),
      migrationNames(),
    );
  });

  it('is idempotent: migrating again, or reopening, changes nothing', async () => {
    const database = await suite.fresh();
    assert.deepEqual(await migrateToLatest(database.store.db, database.store.dialect, schemaOf(database.config)), []);
    if (suite.kind === 'sqlite') await database.store.close();
    const again = await database.reopen();
    const applied = await sql<{ n: number }>`select count(*) as n from kysely_migration`.execute(again.db);
    assert.equal(Number(applied.rows[0]?.n), migrationNames().length);
  });

  it('migrates a new database from two processes at once exactly once', async (t) => {
    if (suite.kind !== 'postgres') return t.skip('one SQLite connection per process');
    const config = suite.newConfig();
    const [a, b] = await Promise.all([suite.open(config), suite.open(config)]);
    assert.ok(a && b);
    const applied = await sql<{ n: number }>`select count(*) as n from kysely_migration`.execute(a.db);
    assert.equal(Number(applied.rows[0]?.n), migrationNames().length);
  });
});

function schemaOf(config: { kind: string; schema?: string }): string | undefined {
  return config.kind === 'postgres' ? config.schema : undefined;
}
