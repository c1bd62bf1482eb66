import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Kysely, PostgresDialect, sql } from 'kysely';
import type { SqlDialect } from './migrations/column-types.ts';
import { migrateToLatest } from './migrations/index.ts';
import type { Database } from './schema.ts';
import { type CheckpointerOptions, SqliteCheckpointer } from './sqlite-checkpointer.ts';
import { createSqliteDialect } from './sqlite-dialect.ts';

export type { SqlDialect } from './migrations/column-types.ts';
export type { Database } from './schema.ts';

export type StoreConfig =
  | { kind: 'sqlite'; path: string }
  | {
      kind: 'postgres';
      url: string;
      /** Tables live in this schema (created if missing); lets tests, or several gateways, share a database. */
      schema?: string;
      /** Pool size; default 10. */
      maxConnections?: number;
    };

/** The store a configuration's `storage` block names (SQLite paths resolved against the working directory). */
export function storeConfigFrom(
  storage: { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string; schema?: string | undefined },
): StoreConfig {
  if (storage.kind === 'sqlite') return { kind: 'sqlite', path: resolve(storage.path) };
  return { kind: 'postgres', url: storage.url, ...(storage.schema ? { schema: storage.schema } : {}) };
}

/** The data folder (journal, secrets): beside the SQLite file, or ./data with PostgreSQL. */
export function dataDirOf(storage: { kind: 'sqlite'; path: string } | { kind: 'postgres' }): string {
  return storage.kind === 'sqlite' ? dirname(resolve(storage.path)) : resolve('data');
}

export interface Store {
  readonly db: Kysely<Database>;
  readonly dialect: SqlDialect;
  /**
   * With `backgroundCheckpoints` on SQLite: starts the checkpoint worker thread once (later calls wait for the
   * same start); it costs about 12 MB of memory, so it is started by the heavy writers (executions), not at open.
   * Never rejects (a failed start is reported to `onError` and checkpoints stay in the commits).
   */
  offloadCheckpoints?: () => Promise<void>;
  /** Closes the database; every later query fails. */
  close(): Promise<void>;
}

/**
 * Opens the database, creating the SQLite file's folder or the PostgreSQL schema, and runs pending migrations.
 * Open one Store per SQLite file per process: node:sqlite is synchronous, so a second connection waiting for
 * the first one's write lock would block the very event loop the first needs to commit.
 */
export async function openStore(config: StoreConfig, options: OpenOptions = {}): Promise<Store> {
  const { db, dialect, schema } = config.kind === 'sqlite' ? openSqlite(config.path) : await openPostgres(config);
  try {
    await migrateToLatest(db, dialect, schema);
  } catch (err) {
    await db.destroy();
    throw err;
  }
  const background = options.backgroundCheckpoints;
  let starting: Promise<SqliteCheckpointer | undefined> | undefined;
  let ready: Promise<void> | undefined;
  let closing: Promise<void> | undefined;
  const offload =
    background && config.kind === 'sqlite' && config.path !== ':memory:'
      ? (): Promise<void> => {
          starting ??= SqliteCheckpointer.start(config.path, db, background === true ? {} : background).catch(
            (err: unknown) => {
              if (background !== true) background.onError?.(err instanceof Error ? err : new Error(String(err)));
              return undefined;
            },
          );
          ready ??= starting.then(() => undefined);
          return ready;
        }
      : undefined;
  return {
    db,
    dialect,
    ...(offload ? { offloadCheckpoints: offload } : {}),
    close: () => {
      closing ??= (async () => {
        await (await starting)?.stop();
        await db.destroy();
      })();
      return closing;
    },
  };
}

export interface OpenOptions {
  /**
   * SQLite: the store can move its WAL checkpoints out of the event loop's commits into a worker thread
   * (`Store.offloadCheckpoints`, decision 0041); the gateway asks for it when it first stores an execution.
   * Ignored for PostgreSQL and `:memory:`.
   */
  backgroundCheckpoints?: boolean | CheckpointerOptions;
}

function openSqlite(path: string): { db: Kysely<Database>; dialect: SqlDialect; schema?: string } {
  if (path !== ':memory:') createOwnerOnly(path);
  return { db: new Kysely<Database>({ dialect: createSqliteDialect(path) }), dialect: 'sqlite' };
}

/**
 * The database holds tenants, key hashes, sessions and usage: like the secret files, only its owner may read
 * it. A missing folder is created 0700 and a missing file 0600 before SQLite opens it (an empty file is an
 * empty database); SQLite gives the -wal and -shm files the mode of the database file. An existing file or
 * folder keeps the mode its operator gave it.
 */
function createOwnerOnly(path: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  try {
    closeSync(openSync(path, 'wx', 0o600));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
}

async function openPostgres(config: {
  url: string;
  schema?: string;
  maxConnections?: number;
}): Promise<{ db: Kysely<Database>; dialect: SqlDialect; schema: string }> {
  // Loaded only when configured: a SQLite gateway never holds the driver in memory.
  const { default: pg } = await import('pg');
  if (config.schema !== undefined) {
    // Plain identifiers only: the name also travels in the connection's startup options.
    if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(config.schema)) {
      throw new Error(`Invalid PostgreSQL schema name ${JSON.stringify(config.schema)}: use letters, digits and _`);
    }
    await createSchemaIfMissing(pg, config.url, config.schema);
  }
  const pool = new pg.Pool({
    connectionString: config.url,
    max: config.maxConnections ?? 10,
    // Without it a connect to an unanswering host waits forever, and so would close() flushing usage.
    connectionTimeoutMillis: 10_000,
    types: { getTypeParser: (oid: number, format?: 'text' | 'binary') => pgTypeParser(pg, oid, format) },
    // Every pooled connection resolves unqualified table names in the configured schema.
    ...(config.schema !== undefined ? { options: `-c search_path=${quoteIdent(config.schema)}` } : {}),
  });
  // An idle client that loses its server emits 'error' on the pool; without a listener that kills the process.
  pool.on('error', () => {});
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  try {
    const schema = config.schema ?? (await sql<{ s: string }>`select current_schema() as s`.execute(db)).rows[0]?.s;
    if (!schema) throw new Error('PostgreSQL has no current schema (check search_path)');
    return { db, dialect: 'postgres', schema };
  } catch (err) {
    await db.destroy();
    throw err;
  }
}

/** Uses a throwaway connection because the pool's connections expect the schema to exist already. */
async function createSchemaIfMissing(pg: PgModule, url: string, schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => {});
  await client.connect();
  try {
    await client.query(`create schema if not exists ${quoteIdent(schema)}`);
  } catch (err) {
    // Two processes creating it at once: the loser gets a unique violation although the schema now exists.
    const exists = await client.query('select 1 from pg_namespace where nspname = $1', [schema]);
    if (exists.rowCount === 0) throw err;
  } finally {
    await client.end();
  }
}

type PgModule = typeof import('pg').default;

const INT8_OID = 20;

/**
 * BIGINT (counts, sums, nano-dollars, ms timestamps) as a JS number, like SQLite returns it. pg returns
 * strings by default because int8 can exceed 2^53; values that do stay BigInt here, never a rounded number,
 * and readers check with toSafeInt().
 */
function pgTypeParser(pg: PgModule, oid: number, format?: 'text' | 'binary'): (value: string) => unknown {
  if (oid === INT8_OID) {
    return (value: string) => {
      const n = Number(value);
      return Number.isSafeInteger(n) ? n : BigInt(value);
    };
  }
  return pg.types.getTypeParser(oid, format ?? 'text');
}

export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
