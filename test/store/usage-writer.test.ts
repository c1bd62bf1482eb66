import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { querySpendOverTime } from '../../src/store/usage-queries.ts';
import { UsageWriter } from '../../src/store/usage-writer.ts';
import { forEachDatabase } from '../helpers/databases.ts';
import {
  breakTable,
  journaledRequestIds,
  journalLines,
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
  const journalDir = () => join(suite.tempDir(), uniqueId('data'));

  it('loses nothing when many async tasks enqueue concurrently: exact counts and cost', async () => {
    const { store } = await suite.fresh();
    const dir = journalDir();
    const writer = new UsageWriter({ db: store.db, journalDir: dir, flushIntervalMs: 5, batchSize: 97 });
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
    assert.deepEqual([c.queued, c.written, c.duplicates, c.leftInJournal, c.failedFlushes], [0, 5000, 0, 0, 0]);
    assert.deepEqual(journaledRequestIds(dir), [], 'every segment is deleted once its records are stored');
  });

  it('an enqueued record is in the journal when its promise resolves', async () => {
    const { store } = await suite.fresh();
    const dir = journalDir();
    const writer = new UsageWriter({ db: store.db, journalDir: dir, flushIntervalMs: NEVER });
    await writer.start();
    const records = randomRecords(50, 3, ['t1']);
    await Promise.all(
      records.map((r) => writer.enqueue(r).then(() => assert.ok(journaledRequestIds(dir).includes(r.requestId)))),
    );
    assert.equal(writer.counters.queued, 50);
    await writer.close();
    assert.deepEqual(await rawTotals(store.db), { rows: 50, cost: sumCost(records) });
  });

  it('a failed journal append still queues and writes the record, reported once per burst', async () => {
    const { store } = await suite.fresh();
    const parent = journalDir();
    mkdirSync(parent, { recursive: true });
    // A file where the data folder should be: the journal cannot create its segments.
    writeFileSync(join(parent, 'data'), '');
    const errors: string[] = [];
    let failures = 0;
    const writer = new UsageWriter({
      db: store.db,
      journalDir: join(parent, 'data'),
      flushIntervalMs: NEVER,
      onError: (_err, during) => errors.push(during),
      onJournalFailure: (records) => {
        failures += records;
      },
    });
    const records = randomRecords(5, 4, ['t1']);
    await Promise.all(records.map((r) => writer.enqueue(r)));
    assert.deepEqual(errors, ['journal']);
    assert.equal(failures, 5);
    assert.equal(writer.counters.journalFailures, 5);
    await writer.flush();
    assert.deepEqual(await rawTotals(store.db), { rows: 5, cost: sumCost(records) });
    await writer.close();
    rmSync(join(parent, 'data'));
  });

  it('flushes on its timer', async () => {
    const { store } = await suite.fresh();
    const writer = new UsageWriter({ db: store.db, journalDir: journalDir(), flushIntervalMs: 10, batchSize: 1000 });
    await writer.start();
    for (let i = 0; i < 3; i++) writer.enqueue(makeRecord());
    await waitFor(() => writer.counters.written === 3, 'the timer flush');
    assert.equal((await rawTotals(store.db)).rows, 3);
    await writer.close();
  });

  it('flushes as soon as a batch is full, without waiting for the timer', async () => {
    const { store } = await suite.fresh();
    const writer = new UsageWriter({ db: store.db, journalDir: journalDir(), flushIntervalMs: NEVER, batchSize: 10 });
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
      journalDir: journalDir(),
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
      journalDir: journalDir(),
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

  it('leaves records in the journal when the database is gone at close, and the next start imports them', async () => {
    const database = await suite.fresh();
    const dir = journalDir();
    const writer = new UsageWriter({ db: database.store.db, journalDir: dir, flushIntervalMs: NEVER, batchSize: 100 });
    await writer.start();
    const written = randomRecords(250, 11, ['t1', 't2']);
    for (const r of written) writer.enqueue(r);
    await writer.flush();
    await database.store.close();
    const stranded = randomRecords(1234, 12, ['t1', 't2']);
    for (const r of stranded) writer.enqueue(r);
    await writer.close();
    assert.equal(writer.counters.leftInJournal, 1234);
    assert.equal(writer.counters.queued, 0);
    // The segment also holds records already stored: re-importing them is harmless.
    assert.deepEqual(new Set(journaledRequestIds(dir)), new Set([...written, ...stranded].map((r) => r.requestId)));

    // A request that finishes after close still reaches the journal.
    const late = makeRecord({ tenantId: 't1' });
    await writer.enqueue(late);
    assert.equal(writer.counters.leftInJournal, 1235);
    assert.ok(journaledRequestIds(dir).includes(late.requestId));

    const reopened = await database.reopen();
    const next = new UsageWriter({ db: reopened.db, journalDir: dir, flushIntervalMs: NEVER });
    assert.deepEqual(await next.start(), { imported: 1235, duplicates: 250, malformed: 0 });
    assert.deepEqual(journaledRequestIds(dir), []);
    const all = [...written, ...stranded, late];
    assert.deepEqual(await rawTotals(reopened.db), { rows: 1485, cost: sumCost(all) });
    assert.deepEqual(await rollupTotals(reopened.db), { requests: 1485, cost: sumCost(all) });
    assert.equal(next.counters.imported, 1235);
    await next.close();
  });

  it('during a long outage, journaled records leave memory and are read back once the database is back', async () => {
    const { store } = await suite.fresh();
    const dir = journalDir();
    const writer = new UsageWriter({ db: store.db, journalDir: dir, flushIntervalMs: NEVER, maxQueued: 10 });
    await breakTable(store.db, 'usage_record');
    const records = randomRecords(25, 14, ['t1']);
    await Promise.all(records.map((r) => writer.enqueue(r)));
    await assert.rejects(writer.flush());
    assert.equal(writer.counters.queued, 0);
    assert.equal(writer.counters.offloaded, 25);
    assert.equal(journaledRequestIds(dir).length, 25);

    await restoreTable(store.db, 'usage_record');
    const more = randomRecords(5, 15, ['t1']);
    for (const r of more) writer.enqueue(r);
    await writer.flush();
    assert.equal(writer.counters.imported, 25);
    assert.deepEqual(await rawTotals(store.db), { rows: 30, cost: sumCost([...records, ...more]) });
    assert.deepEqual(await rollupTotals(store.db), { requests: 30, cost: sumCost([...records, ...more]) });
    await writer.close();
    assert.deepEqual(journaledRequestIds(dir), [], 'the read-back segment is deleted');
  });

  it('a restart (close, reopen) keeps every record and figure', async () => {
    const database = await suite.fresh();
    const writer = new UsageWriter({ db: database.store.db, journalDir: journalDir(), batchSize: 64 });
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

  it('journals a bounded record whatever a client sent as its model name', async () => {
    const { store } = await suite.fresh();
    const dir = journalDir();
    const writer = new UsageWriter({ db: store.db, journalDir: dir, flushIntervalMs: NEVER });
    await writer.enqueue(makeRecord({ requestedModel: 'x'.repeat(1_000_000) }));
    const [line] = journalLines(dir);
    assert.ok(line && line.length < 2_000, `a ${line?.length}-character journal line`);
    await writer.close();
  });

  it('enqueue never throws, even for a record that cannot be copied', async () => {
    const writer = new UsageWriter({ db: suite.getStore().db, journalDir: journalDir(), flushIntervalMs: NEVER });
    const hostile = new Proxy(
      {},
      {
        ownKeys: () => {
          throw new Error('boom');
        },
        get: () => {
          throw new Error('boom');
        },
      },
    );
    let durable: Promise<void> | undefined;
    assert.doesNotThrow(() => {
      durable = writer.enqueue(hostile as never);
    });
    await durable;
  });
});
