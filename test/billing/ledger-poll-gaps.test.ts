import assert from 'node:assert/strict';
import { it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'kysely';
import { blankEntry } from '../../src/billing/entries.ts';
import { Ledger } from '../../src/billing/ledger.ts';
import { forEachDatabase } from '../helpers/databases.ts';
import { waitFor } from '../tenancy/helpers.ts';
import { openAccounts } from './fixtures.ts';

/**
 * The poll of other processes' ledger entries (billing.shared on PostgreSQL) reads ids above the last it saw.
 * Two writers can commit out of id order: a transaction takes its id, another takes a higher one and commits
 * first, the poll reads past both ids, then the first commits. The poll waits for such a passed id and applies
 * its entry once when it appears (it was never applied before this test's fix: the account in memory kept
 * the other process's charge out of its balance and month's spend until it was loaded again).
 */

const USD = 1_000_000_000;

forEachDatabase('ledger poll: entries committed out of id order', (suite) => {
  it('an entry whose transaction commits after a later id was polled is applied once', async (t) => {
    if (suite.kind !== 'postgres') return t.skip('two writers committing out of order: PostgreSQL');
    const db = await suite.fresh();
    const { store } = db;
    // Two accounts: writers of one account queue on its row, so out-of-order commits are of different accounts.
    await openAccounts(store, ['gap1', 'gap2']);
    const reader = new Ledger({ db: store.db, dialect: 'postgres', pollMs: 5, accountIdleMs: 60_000 });
    await reader.start({ recover: false });
    const slow = await db.reopen();
    const fast = await db.reopen();
    const entry = (tenantId: string, node: string, amount: number, reason: string) => ({
      ...blankEntry(tenantId, Date.now(), 'adjustment'),
      amount_nano: amount,
      admin: 'test',
      reason,
      node,
    });
    let release: () => void = () => {};
    try {
      await reader.use('gap1');
      await reader.use('gap2');
      assert.equal(reader.account('gap1')?.balanceNano, 0);
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      let slowId = 0;
      let taken: () => void = () => {};
      const idTaken = new Promise<void>((resolve) => {
        taken = resolve;
      });
      // The slow writer takes its id, then waits before committing.
      const slowWrite = slow.db.transaction().execute(async (trx) => {
        const row = await trx
          .insertInto('ledger_entry')
          .values(entry('gap1', 'writer-slow', 3 * USD, 'slow'))
          .returning('id')
          .executeTakeFirstOrThrow();
        slowId = Number(row.id);
        await sql`update account set balance_nano = balance_nano + ${3 * USD} where tenant_id = 'gap1'`.execute(trx);
        taken();
        await gate;
      });
      await idTaken;
      // The fast writer takes a higher id and commits first.
      const fastRow = await fast.db.transaction().execute(async (trx) => {
        const row = await trx
          .insertInto('ledger_entry')
          .values(entry('gap2', 'writer-fast', 2 * USD, 'fast'))
          .returning('id')
          .executeTakeFirstOrThrow();
        await sql`update account set balance_nano = balance_nano + ${2 * USD} where tenant_id = 'gap2'`.execute(trx);
        return row;
      });
      assert.ok(Number(fastRow.id) > slowId, `ids ${slowId} then ${fastRow.id}`);
      // The reader's poll reads past both ids: only the committed one is there.
      await waitFor(() => reader.account('gap2')?.balanceNano === 2 * USD, 'the poll applies the fast entry');
      await sleep(30); // several more polls while the slow entry's id is still missing
      assert.equal(reader.account('gap1')?.balanceNano, 0);
      release();
      await slowWrite;
      await waitFor(() => reader.account('gap1')?.balanceNano === 3 * USD, 'the poll applies the late entry');
      await sleep(50); // and only once
      const sum = await store.db
        .selectFrom('ledger_entry')
        .select(sql<string>`sum(amount_nano)`.as('b'))
        .where('tenant_id', '=', 'gap1')
        .executeTakeFirstOrThrow();
      assert.equal(Number(sum.b), 3 * USD);
      assert.equal(reader.account('gap1')?.balanceNano, 3 * USD, 'memory equals the ledger, each entry once');
      assert.equal(reader.account('gap2')?.balanceNano, 2 * USD);
    } finally {
      release();
      await reader.close();
    }
  });
});
