import type { Kysely } from 'kysely';
import { type Migration, type MigrationProvider, Migrator } from 'kysely/migration';
import * as m0001 from './0001-usage.ts';
import * as m0002 from './0002-tenancy.ts';
import * as m0003 from './0003-key-limits.ts';
import * as m0004 from './0004-stored-responses.ts';
import * as m0005 from './0005-ledger.ts';
import * as m0006 from './0006-channels.ts';
import * as m0007 from './0007-groups.ts';
import * as m0008 from './0008-key-previous-hash-index.ts';
import * as m0009 from './0009-executions.ts';
import * as m0010 from './0010-money-admin.ts';
import * as m0011 from './0011-accounts.ts';
import * as m0012 from './0012-webhooks.ts';
import * as m0013 from './0013-files.ts';
import * as m0014 from './0014-idempotency-keys.ts';
import * as m0015 from './0015-execution-upstream-job.ts';
import * as m0016 from './0016-upstream-cancels.ts';
import * as m0017 from './0017-ledger-month.ts';
import type { SqlDialect } from './column-types.ts';

/**
 * Every migration, imported statically: no folder scanning, so it works from any working directory and
 * in a bundle. To add one: create `NNNN-name.ts` exporting `up(db, dialect)` (and `down`), append it here
 * with the next number, and type its tables in ../schema.ts. Never edit a migration that has shipped.
 */
interface MigrationModule {
  // biome-ignore lint/suspicious/noExplicitAny: migrations work on the schema as it was, not today's types.
  up(db: Kysely<any>, dialect: SqlDialect): Promise<void>;
  // biome-ignore lint/suspicious/noExplicitAny: see up.
  down?(db: Kysely<any>, dialect: SqlDialect): Promise<void>;
}

const MIGRATIONS: Readonly<Record<string, MigrationModule>> = {
  '0001_usage': m0001,
  '0002_tenancy': m0002,
  '0003_key_limits': m0003,
  '0004_stored_responses': m0004,
  '0005_ledger': m0005,
  '0006_channels': m0006,
  '0007_groups': m0007,
  '0008_key_previous_hash_index': m0008,
  '0009_executions': m0009,
  '0010_money_admin': m0010,
  '0011_accounts': m0011,
  '0012_webhooks': m0012,
  '0013_files': m0013,
  '0014_idempotency_keys': m0014,
  '0015_execution_upstream_job': m0015,
  '0016_upstream_cancels': m0016,
  '0017_ledger_month': m0017,
};

export class StaticMigrationProvider implements MigrationProvider {
  readonly #dialect: SqlDialect;

  constructor(dialect: SqlDialect) {
    this.#dialect = dialect;
  }

  async getMigrations(): Promise<Record<string, Migration>> {
    const dialect = this.#dialect;
    const out: Record<string, Migration> = {};
    for (const [name, mod] of Object.entries(MIGRATIONS)) {
      const { down } = mod;
      out[name] = {
        up: (db) => mod.up(db, dialect),
        ...(down ? { down: (db) => down(db, dialect) } : {}),
      };
    }
    return out;
  }
}

export function migrationNames(): string[] {
  return Object.keys(MIGRATIONS).sort();
}

/**
 * Brings the database to the latest migration. On PostgreSQL, `schema` must name the schema the tables
 * live in: Kysely looks for its own bookkeeping tables in every schema unless told which one, and would
 * find another schema's. Kysely takes a lock (an advisory lock on PostgreSQL), so two processes starting
 * together do not both migrate.
 */
// biome-ignore lint/suspicious/noExplicitAny: the migrator works on untyped tables.
export async function migrateToLatest(db: Kysely<any>, dialect: SqlDialect, schema?: string): Promise<string[]> {
  const migrator = new Migrator({
    db,
    provider: new StaticMigrationProvider(dialect),
    ...(dialect === 'postgres' ? { migrationTableSchema: schema ?? 'public' } : {}),
  });
  let { error, results } = await migrator.migrateToLatest();
  // Kysely's existence check reads the catalog of every schema; a schema or table dropped by someone else at
  // that moment (other gateways' or tests' schemas in a shared database) fails it with 3F000 or 42P01. Nothing
  // of ours changed, so trying again is safe, after a pause that grows (a drop of several schemas takes a while).
  for (let retry = 0; retry < 6 && error !== undefined && isConcurrentDrop(error, results); retry++) {
    await new Promise((resolve) => setTimeout(resolve, 25 * 2 ** retry));
    ({ error, results } = await migrator.migrateToLatest());
  }
  if (error !== undefined) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName;
    throw new Error(`Database migration ${failed ?? ''} failed: ${errorMessage(error)}`, { cause: error });
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

/**
 * invalid_schema_name or undefined_table: another client dropped a schema or table while the catalog was read;
 * undefined_column (a column of another schema's table, seen once when a test dropped its schema during the
 * read) only while no migration of ours has run yet, since one of ours failing so would be a real error.
 */
function isConcurrentDrop(err: unknown, results: readonly unknown[] | undefined): boolean {
  const code = (err as { code?: string }).code;
  return code === '3F000' || code === '42P01' || (code === '42703' && (results === undefined || results.length === 0));
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
