import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { openStore, type Store, type StoreConfig } from '../../src/store/db.ts';
import { isCI } from './ci.ts';

/**
 * Runs one body of storage tests against every supported database: a temp SQLite file, and PostgreSQL
 * (MODRO_TEST_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/test) in a fresh schema per suite,
 * dropped afterwards. PostgreSQL unreachable: its suite is skipped with the reason, except in CI (isCI: any
 * non-empty CI but false/0), where the run fails, so CI cannot go green without having tested PostgreSQL.
 *
 *   forEachDatabase('usage writer', (suite) => {
 *     it('writes', async () => { const { db } = suite.getStore(); ... });
 *   });
 */

export type DatabaseKind = 'sqlite' | 'postgres';

export interface TestDatabase {
  readonly kind: DatabaseKind;
  readonly config: StoreConfig;
  /** Open, migrated; closed after the suite (closing it earlier is fine). */
  readonly store: Store;
  /**
   * Another Store on the same database (what a restarted process sees); closed after the suite.
   * SQLite: close the previous store first. node:sqlite is synchronous, so two connections of one
   * process waiting on each other's write lock would block the event loop until busy_timeout.
   */
  reopen(): Promise<Store>;
}

export interface DatabaseSuite {
  readonly kind: DatabaseKind;
  /** The suite's shared database. Tests that share it must use their own tenant ids. */
  getStore(): Store;
  /** An empty, migrated database of its own (SQLite file or PostgreSQL schema). */
  fresh(): Promise<TestDatabase>;
  /** A temp folder removed after the suite (data folders, spill files). */
  tempDir(): string;
  /** The config of a database that does not exist yet (removed after the suite); open it with open(). */
  newConfig(): StoreConfig;
  /** openStore, with the store closed after the suite. */
  open(config: StoreConfig): Promise<Store>;
}

export const POSTGRES_TEST_URL = process.env.MODRO_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

const postgres = await probePostgres(POSTGRES_TEST_URL);

export function forEachDatabase(suiteName: string, body: (suite: DatabaseSuite) => void): void {
  describe(`${suiteName} [sqlite]`, () => {
    body(createSuite('sqlite', suiteName));
  });

  const pgName = `${suiteName} [postgres]`;
  if (postgres.ok) {
    describe(pgName, () => {
      body(createSuite('postgres', suiteName));
    });
  } else if (isCI()) {
    describe(pgName, () => {
      it('PostgreSQL is reachable (required in CI)', () => {
        assert.fail(`PostgreSQL unreachable at ${redact(POSTGRES_TEST_URL)}: ${postgres.reason}`);
      });
    });
  } else {
    // A skipped test (not just a skipped suite) so the run's summary counts it.
    const reason = `PostgreSQL unreachable at ${redact(POSTGRES_TEST_URL)} (${postgres.reason}); set MODRO_TEST_POSTGRES_URL. In CI (CI set, not false/0) this fails instead.`;
    describe(pgName, () => {
      it('PostgreSQL tests', { skip: reason }, () => {});
    });
  }
}

let schemaCounter = 0;

function createSuite(kind: DatabaseKind, suiteName: string): DatabaseSuite {
  let dir: string | undefined;
  let shared: Store | undefined;
  const stores: Store[] = [];
  const schemas: string[] = [];

  const tempDir = (): string => {
    dir ??= mkdtempSync(join(tmpdir(), 'modro-store-'));
    return dir;
  };

  const newConfig = (): StoreConfig => {
    if (kind === 'sqlite') return { kind, path: join(tempDir(), `db-${++schemaCounter}`, 'modro.sqlite') };
    const slug = suiteName
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '_')
      .slice(0, 24);
    const schema = `t_${slug}_${process.pid}_${++schemaCounter}_${Math.random().toString(36).slice(2, 8)}`;
    schemas.push(schema);
    return { kind, url: POSTGRES_TEST_URL, schema };
  };

  const open = async (config: StoreConfig): Promise<Store> => {
    const store = await openStore(config);
    stores.push(store);
    return store;
  };

  const fresh = async (): Promise<TestDatabase> => {
    const config = newConfig();
    const store = await open(config);
    return { kind, config, store, reopen: () => open(config) };
  };

  before(async () => {
    shared = (await fresh()).store;
  });

  after(async () => {
    for (const store of stores) await store.close().catch(() => {});
    if (schemas.length > 0) {
      const client = new pg.Client({ connectionString: POSTGRES_TEST_URL });
      await client.connect();
      try {
        for (const schema of schemas) await client.query(`drop schema if exists "${schema}" cascade`);
      } finally {
        await client.end();
      }
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  return {
    kind,
    getStore: () => {
      if (!shared) throw new Error('getStore() is available inside tests (after the suite opened its database)');
      return shared;
    },
    fresh,
    tempDir,
    newConfig,
    open,
  };
}

async function probePostgres(url: string): Promise<{ ok: true } | { ok: false; reason: string }> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('select 1');
    return { ok: true };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { ok: false, reason: err instanceof Error ? err.message || code || err.name : String(err) };
  } finally {
    await client.end().catch(() => {});
  }
}

/** The URL without its password, for messages. */
function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable URL)';
  }
}
