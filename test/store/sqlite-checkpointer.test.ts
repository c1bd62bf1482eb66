import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'kysely';
import { openStore } from '../../src/store/db.ts';
import { SqliteCheckpointer } from '../../src/store/sqlite-checkpointer.ts';

/** The WAL checkpoints of the gateway's SQLite file run in a worker thread (src/store/sqlite-checkpointer.ts). */
describe('SQLite checkpoints off the event loop', () => {
  const dir = mkdtempSync(join(tmpdir(), 'modro-ckpt-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('turns the connection’s own checkpoints off, copies frames in the worker, and starts the WAL over at the bound', async () => {
    const path = join(dir, 'bounded.sqlite');
    const seen: { mode: string; log: number; checkpointed: number }[] = [];
    const store = await openStore(
      { kind: 'sqlite', path },
      { backgroundCheckpoints: { intervalMs: 20, restartPages: 400, onCheckpoint: (c) => seen.push(c) } },
    );
    try {
      const own = async () =>
        (await sql<{ wal_autocheckpoint: number }>`PRAGMA wal_autocheckpoint`.execute(store.db)).rows[0]
          ?.wal_autocheckpoint;
      assert.equal(await own(), 1000, 'no worker until asked (it costs memory)');
      assert.ok(store.offloadCheckpoints);
      await Promise.all([store.offloadCheckpoints(), store.offloadCheckpoints()]);
      assert.equal(await own(), 0, 'the event loop connection no longer checkpoints');
      await sql`create table t (id integer primary key, body text)`.execute(store.db);
      const body = 'x'.repeat(3000);
      // About 3,000 pages of writes in many small commits, with turns of the loop for the worker's timer.
      for (let i = 0; i < 300; i++) {
        await store.db.transaction().execute(async (trx) => {
          for (let k = 0; k < 10; k++) await sql`insert into t (body) values (${body})`.execute(trx);
        });
        if (i % 10 === 0) await sleep(5);
      }
      await sleep(200);
      assert.ok(
        seen.some((c) => c.mode === 'PASSIVE' && c.checkpointed > 0),
        'the worker copied frames into the database file',
      );
      assert.ok(
        seen.some((c) => c.mode === 'RESTART'),
        'at 400 pages the worker ran a RESTART checkpoint',
      );
      // Bounded: without any checkpoint the WAL would hold every page written (~3,000 pages, 12 MB).
      const walBytes = statSync(`${path}-wal`).size;
      assert.ok(walBytes < 8 * 1024 * 1024, `WAL ${walBytes} bytes`);
      const count = await sql<{ n: number }>`select count(*) as n from t`.execute(store.db);
      assert.equal(count.rows[0]?.n, 3000);
      // Idle: passes that move nothing are not reported (the metric counts checkpoints, not timer ticks).
      await sleep(100);
      const before = seen.length;
      await sleep(300);
      assert.equal(seen.length, before, 'no report while nothing is written');
    } finally {
      await store.close();
    }
  });

  it('gives the connection its own checkpoints back if the worker dies', async () => {
    const path = join(dir, 'fallback.sqlite');
    const store = await openStore({ kind: 'sqlite', path });
    const errors: Error[] = [];
    const checkpointer = await SqliteCheckpointer.start(path, store.db, { onError: (err) => errors.push(err) });
    const own = async () =>
      (await sql<{ wal_autocheckpoint: number }>`PRAGMA wal_autocheckpoint`.execute(store.db)).rows[0]
        ?.wal_autocheckpoint;
    try {
      assert.equal(await own(), 0);
      await checkpointer.crashWorkerForTest();
      for (let i = 0; i < 100 && errors.length === 0; i++) await sleep(10);
      assert.match(errors[0]?.message ?? '', /checkpoint worker exited/);
      for (let i = 0; i < 100 && (await own()) !== 1000; i++) await sleep(10);
      assert.equal(await own(), 1000, 'SQLite default again: the WAL is still checkpointed');
    } finally {
      await checkpointer.stop();
      await store.close();
    }
  });

  it('a stopped checkpointer hands checkpoints back to the connection', async () => {
    const path = join(dir, 'stopped.sqlite');
    const store = await openStore({ kind: 'sqlite', path });
    try {
      const checkpointer = await SqliteCheckpointer.start(path, store.db);
      await checkpointer.stop();
      const own = await sql<{ wal_autocheckpoint: number }>`PRAGMA wal_autocheckpoint`.execute(store.db);
      assert.equal(own.rows[0]?.wal_autocheckpoint, 1000);
    } finally {
      await store.close();
    }
  });
});
