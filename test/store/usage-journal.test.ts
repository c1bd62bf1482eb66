import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs, { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { UsageRecord } from '../../src/store/usage.ts';
import { MALFORMED_FILE, UsageJournal } from '../../src/store/usage-journal.ts';
import { UsageWriter } from '../../src/store/usage-writer.ts';
import { forEachDatabase } from '../helpers/databases.ts';
import {
  journalLines,
  makeRecord,
  randomRecords,
  rawTotals,
  rollupTotals,
  sumCost,
  uniqueId,
  waitFor,
} from './support.ts';

/** Timers that never fire during a test, so only the behaviour under test writes. */
const NEVER = 3_600_000;

const root = mkdtempSync(join(tmpdir(), 'modro-journal-'));
after(() => rmSync(root, { recursive: true, force: true }));

function newDir(): string {
  return join(root, uniqueId('data'));
}

function segments(dir: string): string[] {
  try {
    return readdirSync(dir)
      .filter((name) => name.startsWith('usage-journal-') && name.endsWith('.jsonl'))
      .sort();
  } catch {
    return [];
  }
}

/**
 * Counts calls of one node:fs function the journal uses (patched on the module, and pushed to the ESM named
 * exports with syncBuiltinESMExports), optionally holding each call until `before` resolves.
 */
async function countCalls(
  method: 'write' | 'fdatasync',
  before?: () => Promise<unknown>,
): Promise<{ calls: () => number; restore: () => void }> {
  const module = fs as unknown as Record<string, (...args: unknown[]) => void>;
  const original = module[method]!;
  let calls = 0;
  module[method] = (...args: unknown[]) => {
    calls++;
    if (!before) return original.apply(fs, args);
    void before().then(() => original.apply(fs, args));
  };
  syncBuiltinESMExports();
  return {
    calls: () => calls,
    restore: () => {
      module[method] = original;
      syncBuiltinESMExports();
    },
  };
}

/** The pid of a process that has exited: what a killed gateway leaves in its segments' names. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await new Promise((resolve) => child.once('exit', resolve));
  return child.pid!;
}

describe('usage journal', () => {
  it('group commit: appends that arrive during a write go out in one next write; each resolves once written', async () => {
    const dir = newDir();
    const journal = new UsageJournal({ dir, syncIntervalMs: NEVER });
    const writes = await countCalls('write');
    try {
      const records = Array.from({ length: 100 }, () => makeRecord());
      const seen: boolean[] = [];
      await Promise.all(
        records.map((record, i) =>
          journal.append(record).written.then((ok) => {
            assert.equal(ok, true);
            // Its bytes are in the file when its promise resolves.
            seen[i] = readFileSync(segmentPath(dir), 'utf8').includes(record.requestId);
          }),
        ),
      );
      assert.deepEqual(
        seen,
        records.map(() => true),
      );
      // The first append starts a write at once; the 99 that arrive meanwhile share the next one.
      assert.equal(writes.calls(), 2);
      assert.deepEqual(
        journalLines(dir).map((line) => JSON.parse(line) as UsageRecord),
        records,
        'every record, whole and in order',
      );
    } finally {
      writes.restore();
    }
    await journal.close();
  });

  it('segment files are created with mode 0600', async () => {
    const dir = newDir();
    const journal = new UsageJournal({ dir, syncIntervalMs: NEVER });
    await journal.append(makeRecord()).written;
    assert.equal(statSync(segmentPath(dir)).mode & 0o777, 0o600);
    await journal.close();
  });

  it('seals segments at their size limit and deletes each once the database holds all its records', async () => {
    const dir = newDir();
    const journal = new UsageJournal({ dir, syncIntervalMs: NEVER, segmentMaxBytes: 1500 });
    const appended = Array.from({ length: 12 }, () => journal.append(makeRecord()));
    await Promise.all(appended.map((a) => a.written));
    const paths = [...new Set(appended.map((a) => a.segment.path))];
    assert.ok(paths.length >= 3, `${paths.length} segments`);
    assert.equal(segments(dir).length, paths.length);

    // All of the first segment's records but one are stored: it stays.
    const first = appended.filter((a) => a.segment.path === paths[0]);
    for (const a of first.slice(1)) journal.release(a.segment);
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(segments(dir).length, paths.length);
    journal.release(first[0]!.segment);
    await waitFor(() => segments(dir).length === paths.length - 1, 'the first segment to be deleted');

    // The current segment is kept while it may still be appended to, even when all its records are stored.
    for (const a of appended) if (a.segment.path !== paths[0]) journal.release(a.segment);
    await waitFor(() => segments(dir).length === 1, 'every sealed segment to be deleted');
    assert.equal(segments(dir)[0], paths.at(-1)!.split('/').at(-1));
    await journal.close();
    assert.deepEqual(segments(dir), [], 'close deletes what the database holds');
  });

  it('syncs in the background, seals an idle segment after its age limit and deletes it once stored', async () => {
    const dir = newDir();
    let databaseSyncs = 0;
    const journal = new UsageJournal({
      dir,
      syncIntervalMs: 10,
      segmentMaxAgeMs: 50,
      syncDatabase: async () => {
        databaseSyncs++;
      },
    });
    await journal.open();
    const syncs = await countCalls('fdatasync');
    try {
      const a = journal.append(makeRecord());
      await a.written;
      await waitFor(() => syncs.calls() >= 1, 'a background sync');
      journal.release(a.segment);
      await waitFor(() => segments(dir).length === 0, 'the idle segment to be deleted');
      assert.equal(databaseSyncs, 1, 'the database is synced before a segment is deleted');
    } finally {
      syncs.restore();
    }
    await journal.close();
  });

  it('callers stop waiting for a write that hangs; its lines are still written when it returns', async () => {
    const dir = newDir();
    const errors: string[] = [];
    let failed = 0;
    const journal = new UsageJournal({
      dir,
      syncIntervalMs: 10,
      stallMs: 50,
      onError: (_err, during) => errors.push(during),
      onAppendFailure: (records) => {
        failed += records;
      },
    });
    await journal.open();
    let unblock!: () => void;
    const hung = new Promise<void>((resolve) => {
      unblock = resolve;
    });
    const writes = await countCalls('write', () => hung);
    try {
      const first = journal.append(makeRecord());
      const second = journal.append(makeRecord());
      assert.deepEqual(await Promise.all([first.written, second.written]), [false, false]);
      assert.deepEqual(errors, ['append']);
      assert.equal(failed, 2);
      unblock();
      const third = journal.append(makeRecord());
      assert.equal(await third.written, true);
      assert.equal(journalLines(dir).length, 3, 'the hung lines were written once the disk answered');
      assert.equal(failed, 2, 'nothing counted twice');
    } finally {
      writes.restore();
    }
    await journal.close();
  });

  it('a failed write resolves false, is reported once per burst and counted, and the next records use a new file', async () => {
    const parent = newDir();
    mkdirSync(parent, { recursive: true });
    // A file where the data folder should be: nothing can be created under it.
    const blocker = join(parent, 'data');
    writeFileSync(blocker, '');
    const errors: string[] = [];
    let failed = 0;
    const journal = new UsageJournal({
      dir: join(blocker, 'journal'),
      syncIntervalMs: NEVER,
      onError: (_err, during) => errors.push(during),
      onAppendFailure: (records) => {
        failed += records;
      },
    });
    const first = journal.append(makeRecord());
    const more = [journal.append(makeRecord()), journal.append(makeRecord())];
    assert.deepEqual(await Promise.all([first, ...more].map((a) => a.written)), [false, false, false]);
    assert.deepEqual(errors, ['append']);
    assert.equal(failed, 3);

    rmSync(blocker);
    const after = journal.append(makeRecord());
    assert.equal(await after.written, true);
    assert.notEqual(after.segment.path, first.segment.path);
    assert.equal(journalLines(join(blocker, 'journal')).length, 1);
    assert.deepEqual(errors, ['append']);
    await journal.close();
  });
});

forEachDatabase('usage journal import', (suite) => {
  it('imports the segments a killed process left, deletes them, and sets a torn last line aside', async () => {
    const { store } = await suite.fresh();
    const dir = join(suite.tempDir(), uniqueId('data'));
    mkdirSync(dir, { recursive: true });
    const records = randomRecords(700, 21, ['t1', 't2']);
    const pid = await deadPid();
    const lines = (rs: UsageRecord[]) => rs.map((r) => `${JSON.stringify(r)}\n`).join('');
    const older = join(dir, `usage-journal-${pid}-k1-000000.jsonl`);
    const newer = join(dir, `usage-journal-${pid}-k1-000001.jsonl`);
    writeFileSync(older, lines(records.slice(0, 400)));
    // Killed in the middle of a write: the last line is cut short.
    writeFileSync(newer, `${lines(records.slice(400))}{"requestId":"req-cut","tenantId":"t1","at":17`);

    const writer = new UsageWriter({ db: store.db, journalDir: dir, flushIntervalMs: NEVER, batchSize: 128 });
    assert.deepEqual(await writer.start(), { imported: 700, duplicates: 0, malformed: 1 });
    assert.deepEqual(segments(dir), []);
    assert.equal(readFileSync(join(dir, MALFORMED_FILE), 'utf8'), '{"requestId":"req-cut","tenantId":"t1","at":17\n');
    assert.equal(statSync(join(dir, MALFORMED_FILE)).mode & 0o777, 0o600);
    assert.deepEqual(await rawTotals(store.db), { rows: 700, cost: sumCost(records) });
    assert.deepEqual(await rollupTotals(store.db), { requests: 700, cost: sumCost(records) });
    await writer.close();

    // Killed again after importing but before deleting: importing the same files again counts nothing twice.
    writeFileSync(older, lines(records.slice(0, 400)));
    const again = new UsageWriter({ db: store.db, journalDir: dir, flushIntervalMs: NEVER });
    assert.deepEqual(await again.start(), { imported: 0, duplicates: 400, malformed: 0 });
    assert.deepEqual(await rawTotals(store.db), { rows: 700, cost: sumCost(records) });
    assert.deepEqual(await rollupTotals(store.db), { requests: 700, cost: sumCost(records) });
    assert.deepEqual(segments(dir), []);
    await again.close();
  });

  it('leaves alone the segments of a journal still open in the folder', async () => {
    const { store } = await suite.fresh();
    const dir = join(suite.tempDir(), uniqueId('data'));
    const running = new UsageWriter({ db: store.db, journalDir: dir, flushIntervalMs: NEVER });
    await running.start();
    const record = makeRecord();
    await running.enqueue(record);

    const starting = new UsageWriter({ db: store.db, journalDir: dir, flushIntervalMs: NEVER });
    assert.deepEqual(await starting.start(), { imported: 0, duplicates: 0, malformed: 0 });
    assert.equal(journalLines(dir).length, 1, 'the running writer’s segment is untouched');
    await starting.close();
    await running.close();
    assert.deepEqual(await rawTotals(store.db), { rows: 1, cost: record.costNanoUsd });
    assert.deepEqual(segments(dir), []);
  });

  it('imports the spill file an earlier version left', async () => {
    const { store } = await suite.fresh();
    const dir = join(suite.tempDir(), uniqueId('data'));
    mkdirSync(dir, { recursive: true });
    const records = randomRecords(30, 22, ['t1']);
    writeFileSync(join(dir, 'usage-spill.jsonl'), records.map((r) => `${JSON.stringify(r)}\n`).join(''));
    const writer = new UsageWriter({ db: store.db, journalDir: dir, flushIntervalMs: NEVER });
    assert.deepEqual(await writer.start(), { imported: 30, duplicates: 0, malformed: 0 });
    assert.deepEqual(readdirSync(dir), []);
    await writer.close();
  });
});

/** The one segment of a folder. */
function segmentPath(dir: string): string {
  const names = segments(dir);
  assert.equal(names.length, 1, `one segment in ${dir}: ${names.join(', ')}`);
  return join(dir, names[0]!);
}
