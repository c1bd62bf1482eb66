import assert from 'node:assert/strict';
import { join } from 'node:path';
import { it } from 'node:test';
import { writeUsageBatch } from '../../src/store/usage.ts';
import { pruneUsage } from '../../src/store/usage-prune.ts';
import { querySpendOverTime } from '../../src/store/usage-queries.ts';
import { UsageWriter } from '../../src/store/usage-writer.ts';
import { forEachDatabase } from '../helpers/databases.ts';
import { makeRecord, rawTotals, rollupTotals, sumCost, uniqueId, waitFor } from './support.ts';

const DAY = 86_400_000;

forEachDatabase('usage retention', (suite) => {
  it('prunes raw rows older than the cutoff and keeps the rollups', async () => {
    const { store } = await suite.fresh();
    const cutoff = Date.UTC(2026, 3, 10);
    // More old rows than one DELETE takes, so the chunked loop runs more than once.
    const old = Array.from({ length: 12_000 }, (_, i) =>
      makeRecord({ at: cutoff - DAY - i, costNanoUsd: 3 + (i % 5) }),
    );
    const recent = Array.from({ length: 40 }, (_, i) => makeRecord({ at: cutoff + i, costNanoUsd: 1000 + i }));
    const boundary = makeRecord({ at: cutoff, costNanoUsd: 7 });
    await writeUsageBatch(store.db, [...old, ...recent, boundary]);
    const range = { from: 0, to: cutoff + DAY, bucket: 'day' as const };
    const before = await querySpendOverTime(store.db, range);

    assert.equal(await pruneUsage(store.db, cutoff), 12_000);
    assert.deepEqual(await rawTotals(store.db), { rows: 41, cost: sumCost([...recent, boundary]) });
    assert.deepEqual(await rollupTotals(store.db), { requests: 12_041, cost: sumCost([...old, ...recent, boundary]) });
    assert.deepEqual(await querySpendOverTime(store.db, range), before);
    assert.equal(await pruneUsage(store.db, cutoff), 0);
  });

  it('the writer prunes on its own when a retention is set', async () => {
    const { store } = await suite.fresh();
    const now = Date.now();
    await writeUsageBatch(store.db, [
      makeRecord({ at: now - 10 * DAY }),
      makeRecord({ at: now - 9 * DAY }),
      makeRecord({ at: now }),
    ]);
    const writer = new UsageWriter({
      db: store.db,
      journalDir: join(suite.tempDir(), uniqueId('data')),
      retentionMs: 7 * DAY,
      pruneIntervalMs: 10,
    });
    await writer.start();
    await waitFor(() => writer.counters.pruned === 2, 'the periodic prune');
    await writer.close();
    assert.equal((await rawTotals(store.db)).rows, 1);
    assert.equal((await rollupTotals(store.db)).requests, 3);
  });
});
