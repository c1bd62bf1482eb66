import assert from 'node:assert/strict';
import { it } from 'node:test';
import { storedSpendSince } from '../../src/limits/stored-spend.ts';
import { writeUsageBatch } from '../../src/store/usage.ts';
import { forEachDatabase } from '../helpers/databases.ts';
import { makeRecord } from '../store/support.ts';

/** A key's spend since an instant, from its stored usage records, on SQLite and PostgreSQL alike. */
forEachDatabase('stored spend of a key', (suite) => {
  it('sums the key’s cost from the period start, exactly, and 0 for a key with no records', async () => {
    const { db } = (await suite.fresh()).store;
    const day = Date.UTC(2026, 11, 7);
    // Large nano-dollar amounts: the sum must stay exact beyond 32 bits (PostgreSQL returns it as text).
    await writeUsageBatch(db, [
      makeRecord({ keyId: 'key_a', at: day - 1, costNanoUsd: 7_000_000_000 }),
      makeRecord({ keyId: 'key_a', at: day, costNanoUsd: 4_000_000_001 }),
      makeRecord({ keyId: 'key_a', at: day + 3_600_000, costNanoUsd: 5_000_000_000 }),
      makeRecord({ keyId: 'key_b', at: day + 1, costNanoUsd: 123 }),
    ]);
    assert.equal(await storedSpendSince(db, 'key_a', day), 9_000_000_001);
    assert.equal(await storedSpendSince(db, 'key_a', 0), 16_000_000_001);
    assert.equal(await storedSpendSince(db, 'key_b', day), 123);
    assert.equal(await storedSpendSince(db, 'key_c', 0), 0);
    assert.equal(await storedSpendSince(db, 'key_b', day + 2), 0);
  });
});
