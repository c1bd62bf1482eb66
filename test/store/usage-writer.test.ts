import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { appendFile, copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { it } from 'node:test';
import { querySpendOverTime } from '../../src/store/usage-queries.ts';
import { importSpill } from '../../src/store/usage-spill.ts';
import { UsageWriter } from '../../src/store/usage-writer.ts';
import { forEachDatabase } from '../helpers/databases.ts';
import {
  breakTable,
  makeRecord,
  randomRecords,
  rawTotals,
  restoreTable,
  rollupTotals,
  sumCost,
  uniqueId,
  waitFor,
} from './support.ts';

/** Timers that never fire during a test, so only the behaviour under test writes. */
const NEVER = 3_600_000;

forEachDatabase('usage writer', (suite) => {
  const spillPath = () => join(suite.tempDir(), uniqueId('data'), 'usage-spill.jsonl');

  it('loses nothing when many async tasks enqueue concurrently: exact counts and cost', async () => {
    const { store } = await suite.fresh();
    const writer = new UsageWriter({ db: store.db, spillPath: spillPath(), flushIntervalMs: 5, batchSize: 97 });
    await writer.start();
    const all: ReturnType<typeof makeRecord>[][] = [];
    await Promise.all(
      Array.from({ length: 40 }, async (_, task) => {
        const mine = randomRecords(125, 1000 + task, ['t1', 't2', 't3']);
        all.push(mine);
        for (const [i, r] of mine.entries()) {
          writer.enqueue(r);
          if (i % 7 === 0) await new Promise((resolve) => setImmediate(resolve));
        }
      }),
    );
    await writer.close();
    const records = all.flat();
    assert.equal(records.length, 5000);
    assert.deepEqual(await rawTotals(store.db), { rows: 5000, cost: sumCost(records) });
    assert.deepEqual(await rollupTotals(store.db), { requests: 5000, cost: sumCost(records) });
    const c = writer.counters;
    assert.deepEqual([c.queued, c.written, c.duplicates, c.spilled, c.failedFlushes], [0, 5000, 0, 0, 0]);
  });

  it('flushes on its timer', async () => {
    const { store } = await suite.fresh();
    const writer = new UsageWriter({ db: store.db, spillPath: spillPath(), flushIntervalMs: 10, batchSize: 1000 });
    await writer.start();
    for (let i = 0; i < 3; i++) writer.enqueue(makeRecord());
    await waitFor(() => writer.counters.written === 3, 'the timer flush');
    assert.equal((await rawTotals(store.db)).rows, 3);
    await writer.close();
  });

  it('flushes as soon as a batch is full, without waiting for the timer', async () => {
    const { store } = await suite.fresh();
    const writer = new UsageWriter({ db: store.db, spillPath: spillPath(), flushIntervalMs: NEVER, batchSize: 10 });
    await writer.start();
    for (let i = 0; i < 9; i++) writer.enqueue(makeRecord());
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(writer.counters.written, 0, 'a partial batch waits for the timer');
    writer.enqueue(makeRecord());
    await waitFor(() => writer.counters.written === 10, 'the size-triggered flush');
    await writer.close();
  });

  it('keeps the records of a failed flush and writes them on a later flush', async () => {
    const { store } = await suite.fresh();
    const errors: string[] = [];
    const writer = new UsageWriter({
      db: store.db,
      spillPath: spillPath(),
      flushIntervalMs: NEVER,
      batchSize: 50,
      onError: (_err, during) => errors.push(during),
    });
    await breakTable(store.db, 'usage_hourly');
    const records = randomRecords(120, 5, ['t1']);
    // Past batchSize, so enqueue itself also schedules (failing) flushes.
    for (const r of records) writer.enqueue(r);
    await assert.rejects(writer.flush());
    await assert.rejects(writer.flush());
    assert.ok(writer.counters.failedFlushes >= 2);
    assert.equal(writer.counters.queued, 120);
    assert.equal(writer.counters.written, 0);
    assert.deepEqual(await rawTotals(store.db), { rows: 0, cost: 0 });

    await restoreTable(store.db, 'usage_hourly');
    await writer.flush();
    assert.equal(writer.counters.queued, 0);
    assert.equal(writer.counters.written, 120);
    assert.deepEqual(await rawTotals(store.db), { rows: 120, cost: sumCost(records) });
    assert.deepEqual(await rollupTotals(store.db), { requests: 120, cost: sumCost(records) });
    await writer.close();
    assert.deepEqual(errors, []);
  });

  it('retries failed flushes in the background until the database is back', async () => {
    const { store } = await suite.fresh();
    const errors: string[] = [];
    const writer = new UsageWriter({
      db: store.db,
      spillPath: spillPath(),
      flushIntervalMs: 5,
      retryInitialMs: 5,
      retryMaxMs: 20,
      onError: (_err, during) => errors.push(during),
    });
    await writer.start();
    await breakTable(store.db, 'usage_record');
    const records = randomRecords(40, 6, ['t1']);
    for (const r of records) writer.enqueue(r);
    await waitFor(() => writer.counters.failedFlushes >= 2, 'two failed background flushes');
    assert.ok(errors.length >= 2 && errors.every((e) => e === 'flush'));
    await restoreTable(store.db, 'usage_record');
    await waitFor(() => writer.counters.written === 40, 'the retried flush');
    assert.deepEqual(await rawTotals(store.db), { rows: 40, cost: sumCost(records) });
    await writer.close();
  });

  it('spills to the JSONL file when the database is gone at close, and the next start imports it', async () => {
    const database = await suite.fresh();
    const path = spillPath();
    const writer = new UsageWriter({ db: database.store.db, spillPath: path, flushIntervalMs: NEVER, batchSize: 100 });
    await writer.start();
    const written = randomRecords(250, 11, ['t1', 't2']);
    for (const r of written) writer.enqueue(r);
    await writer.flush();
    await database.store.close();
    const stranded = randomRecords(1234, 12, ['t1', 't2']);
    for (const r of stranded) writer.enqueue(r);
    await writer.close();
    assert.equal(writer.counters.spilled, 1234);
    assert.equal(writer.counters.queued, 0);
    assert.equal(readFileSync(path, 'utf8').trimEnd().split('\n').length, 1234);

    // A request that finishes after close still reaches the file.
    const late = makeRecord({ tenantId: 't1' });
    writer.enqueue(late);
    assert.equal(writer.counters.spilled, 1235);

    const reopened = await database.reopen();
    const next = new UsageWriter({ db: reopened.db, spillPath: path, flushIntervalMs: NEVER });
    assert.deepEqual(await next.start(), { imported: 1235, duplicates: 0, malformed: 0 });
    assert.equal(existsSync(path), false);
    const all = [...written, ...stranded, late];
    assert.deepEqual(await rawTotals(reopened.db), { rows: 1485, cost: sumCost(all) });
    assert.deepEqual(await rollupTotals(reopened.db), { requests: 1485, cost: sumCost(all) });
    assert.equal(next.counters.imported, 1235);
    await next.close();
  });

  it('re-importing a spill file counts nothing twice, and sets a cut-off line aside', async () => {
    const { store } = await suite.fresh();
    const path = spillPath();
    const records = randomRecords(300, 13, ['t1']);
    const dead = new UsageWriter({ db: store.db, spillPath: path, flushIntervalMs: NEVER });
    await breakTable(store.db, 'usage_record');
    for (const r of records) dead.enqueue(r);
    await dead.close();
    await restoreTable(store.db, 'usage_record');
    assert.equal(dead.counters.spilled, 300);

    // A crash after the import but before the file was deleted, then a crash mid-append.
    const copy = `${path}.copy`;
    await copyFile(path, copy);
    assert.deepEqual(await importSpill(store.db, path), { imported: 300, duplicates: 0, malformed: 0 });
    await copyFile(copy, path);
    await appendFile(path, '{"requestId":"cut-');
    const extra = makeRecord({ tenantId: 't1' });
    const writer = new UsageWriter({ db: store.db, spillPath: path, flushIntervalMs: NEVER });
    await breakTable(store.db, 'usage_record');
    writer.enqueue(extra);
    await writer.close();
    await restoreTable(store.db, 'usage_record');

    const result = await importSpill(store.db, path);
    assert.deepEqual(result, { imported: 1, duplicates: 300, malformed: 1 });
    assert.equal(readFileSync(`${path}.malformed`, 'utf8'), '{"requestId":"cut-\n');
    assert.deepEqual(await rawTotals(store.db), { rows: 301, cost: sumCost([...records, extra]) });
    assert.deepEqual(await rollupTotals(store.db), { requests: 301, cost: sumCost([...records, extra]) });
  });

  it('moves records to the spill file during a long outage and brings them back once the database is', async () => {
    const { store } = await suite.fresh();
    const path = spillPath();
    const writer = new UsageWriter({ db: store.db, spillPath: path, flushIntervalMs: NEVER, maxQueued: 10 });
    await breakTable(store.db, 'usage_record');
    const records = randomRecords(25, 14, ['t1']);
    for (const r of records) writer.enqueue(r);
    await assert.rejects(writer.flush());
    assert.equal(writer.counters.queued, 0);
    assert.equal(writer.counters.spilled, 25);
    assert.equal(readFileSync(path, 'utf8').trimEnd().split('\n').length, 25);

    await restoreTable(store.db, 'usage_record');
    const more = randomRecords(5, 15, ['t1']);
    for (const r of more) writer.enqueue(r);
    await writer.flush();
    assert.equal(existsSync(path), false);
    assert.equal(writer.counters.imported, 25);
    assert.deepEqual(await rawTotals(store.db), { rows: 30, cost: sumCost([...records, ...more]) });
    await writer.close();
  });

  it('a restart (close, reopen) keeps every record and figure', async () => {
    const database = await suite.fresh();
    const path = spillPath();
    const writer = new UsageWriter({ db: database.store.db, spillPath: path, batchSize: 64 });
    await writer.start();
    const records = randomRecords(700, 16, ['t1', 't2']);
    for (const r of records) writer.enqueue(r);
    await writer.close();
    const range = { from: 0, to: Date.UTC(2100, 0, 1), bucket: 'day' as const };
    const before = await querySpendOverTime(database.store.db, range);
    await database.store.close();

    const reopened = await database.reopen();
    assert.deepEqual(await rawTotals(reopened.db), { rows: 700, cost: sumCost(records) });
    assert.deepEqual(await querySpendOverTime(reopened.db, range), before);
    assert.equal(
      before.reduce((n, p) => n + p.requests, 0),
      700,
    );
  });

  it('enqueue never throws, even for a record that cannot be copied', () => {
    const writer = new UsageWriter({ db: suite.getStore().db, spillPath: spillPath(), flushIntervalMs: NEVER });
    const hostile = new Proxy(
      {},
      {
        ownKeys: () => {
          throw new Error('boom');
        },
      },
    );
    assert.doesNotThrow(() => writer.enqueue(hostile as never));
  });

  it('the spill file starts on a new line even if the previous append was cut off', async () => {
    const { store } = await suite.fresh();
    const path = spillPath();
    const writer = new UsageWriter({ db: store.db, spillPath: path, flushIntervalMs: NEVER });
    await breakTable(store.db, 'usage_record');
    const first = makeRecord();
    writer.enqueue(first);
    await writer.close();
    await restoreTable(store.db, 'usage_record');
    writeFileSync(path, `${readFileSync(path, 'utf8')}{"cut`);
    const second = new UsageWriter({ db: store.db, spillPath: path, flushIntervalMs: NEVER });
    await breakTable(store.db, 'usage_record');
    const next = makeRecord();
    second.enqueue(next);
    await second.close();
    await restoreTable(store.db, 'usage_record');
    assert.deepEqual(await importSpill(store.db, path), { imported: 2, duplicates: 0, malformed: 1 });
  });
});
