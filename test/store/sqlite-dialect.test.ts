import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Kysely, sql } from 'kysely';
import { openStore } from '../../src/store/db.ts';
import { createSqliteDialect, NodeSqliteDatabase } from '../../src/store/sqlite-dialect.ts';

describe('node:sqlite dialect glue', () => {
  const dir = mkdtempSync(join(tmpdir(), 'modro-sqlite-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('opens with WAL, synchronous=NORMAL, a busy timeout and foreign keys', () => {
    const database = new NodeSqliteDatabase(join(dir, 'pragmas.sqlite'));
    const pragma = (name: string) => database.prepare(`PRAGMA ${name}`).all([])[0] as Record<string, unknown>;
    assert.equal(pragma('journal_mode').journal_mode, 'wal');
    assert.equal(pragma('synchronous').synchronous, 1);
    assert.equal(pragma('foreign_keys').foreign_keys, 1);
    assert.equal(pragma('busy_timeout').timeout, 5000);
    database.close();
  });

  it('a transaction takes the write lock when it begins (a read-then-write one cannot fail on a later commit)', async () => {
    const path = join(dir, 'immediate.sqlite');
    const db = new Kysely<{ t: { id: number } }>({ dialect: createSqliteDialect(path) });
    await sql`create table t (id integer primary key)`.execute(db);
    // Another process's connection that does not wait for locks.
    const other = new NodeSqliteDatabase(path);
    other.prepare('PRAGMA busy_timeout = 0').all([]);
    let otherWrite: unknown;
    await db.transaction().execute(async (trx) => {
      await trx.selectFrom('t').selectAll().execute();
      try {
        other.prepare('insert into t (id) values (1)').run([]);
      } catch (err) {
        otherWrite = err;
      }
      await trx.insertInto('t').values({ id: 2 }).execute();
    });
    // With a deferred begin the other insert would have committed and this transaction's write failed.
    assert.match(String(otherWrite), /locked|busy/i);
    assert.deepEqual(
      (await db.selectFrom('t').selectAll().execute()).map((r) => r.id),
      [2],
    );
    other.close();
    await db.destroy();
  });

  it('tells readers from writers, including INSERT ... RETURNING', () => {
    const database = new NodeSqliteDatabase(':memory:');
    assert.equal(database.prepare('create table t (id integer primary key, v text)').reader, false);
    database.prepare('create table t (id integer primary key, v text)').run([]);
    assert.equal(database.prepare('insert into t (v) values (?)').reader, false);
    assert.equal(database.prepare('insert into t (v) values (?) returning id').reader, true);
    assert.equal(database.prepare('select * from t').reader, true);
    assert.deepEqual(database.prepare('insert into t (v) values (?)').run(['a']), { changes: 1, lastInsertRowid: 1 });
    assert.deepEqual(database.prepare('insert into t (v) values (?) returning id, v').all(['b']), [{ id: 2, v: 'b' }]);
    assert.deepEqual([...database.prepare('select v from t order by id').iterate([])], [{ v: 'a' }, { v: 'b' }]);
    database.close();
  });

  it('runs Kysely queries, transactions and rollbacks', async () => {
    const db = new Kysely<{ t: { id: number; v: string } }>({ dialect: createSqliteDialect(':memory:') });
    await db.schema
      .createTable('t')
      .addColumn('id', 'integer', (c) => c.primaryKey())
      .addColumn('v', 'text')
      .execute();
    await db
      .insertInto('t')
      .values([{ id: 1, v: 'a' }])
      .execute();
    await assert.rejects(
      db.transaction().execute(async (trx) => {
        await trx.insertInto('t').values({ id: 2, v: 'b' }).execute();
        throw new Error('roll back');
      }),
    );
    assert.deepEqual(await db.selectFrom('t').selectAll().execute(), [{ id: 1, v: 'a' }]);
    const n = await sql<{ n: number }>`select count(*) as n from t`.execute(db);
    assert.equal(n.rows[0]?.n, 1);
    await db.destroy();
  });

  it('openStore creates the data folder of the SQLite file', async () => {
    const path = join(dir, 'nested', 'data', 'modro.sqlite');
    const store = await openStore({ kind: 'sqlite', path });
    assert.equal(store.dialect, 'sqlite');
    await store.close();
    await store.close();
  });
});
