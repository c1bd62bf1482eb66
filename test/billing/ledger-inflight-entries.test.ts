import assert from 'node:assert/strict';
import { it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Kysely, type KyselyPlugin, type RawNode, sql } from 'kysely';
import { blankEntry } from '../../src/billing/entries.ts';
import { Ledger } from '../../src/billing/ledger.ts';
import { verifyLedger } from '../../src/billing/verify.ts';
import type { Store } from '../../src/store/db.ts';
import type { Database } from '../../src/store/schema.ts';
import { forEachDatabase } from '../helpers/databases.ts';
import { waitFor } from '../tenancy/helpers.ts';
import { entrySums, openAccounts } from './fixtures.ts';

/**
 * Entries still in flight (their id taken, their transaction not committed) when this process reads the ledger
 * (ADR 0043, "Consequences"). On PostgreSQL two writers can commit out of id order, so an entry can have an id
 * below what a load or a start saw as the ledger's newest and still commit afterwards:
 * - while an account is loaded: the load's snapshot misses it, and the poll used to skip it (its id was below the
 *   load's `top`), so the account in memory lacked another process's deposit or charge until loaded again;
 * - while its answer is on its way (the poll re-reads the entry before the account is in memory);
 * - while a process starts: its id was below the poll's starting id, so the poll never read it.
 * Each test holds the entry's transaction open in a second connection, commits it, and checks that the account in
 * memory equals the ledger's sums (what `ledger verify` checks against the cached balances). SQLite has one writer
 * at a time and takes ids in commit order: an entry in flight always has an id above every committed one.
 */

const USD = 1_000_000_000;

/** Memory equals the entries' sums, and `ledger verify` finds the cached balances equal to them. */
async function agrees(store: Store, ledger: Ledger, tenantId: string): Promise<void> {
  const expected = await entrySums(store, tenantId);
  const view = ledger.account(tenantId);
  assert.equal(view?.balanceNano, expected.balance, `${tenantId}: balance in memory equals the ledger's sum`);
  assert.equal(view?.heldNano, expected.held, `${tenantId}: amount held in memory equals the ledger's sum`);
  assert.deepEqual((await verifyLedger(store.db)).problems, []);
}

/** A credit written by another process in its own transaction, which waits for `commit()` before committing. */
async function openCredit(db: Kysely<Database>, tenantId: string, amount: number) {
  let commit: () => void = () => {};
  const gate = new Promise<void>((resolve) => {
    commit = resolve;
  });
  let taken: (id: number) => void = () => {};
  const idTaken = new Promise<number>((resolve) => {
    taken = resolve;
  });
  const done = db.transaction().execute(async (trx) => {
    const row = await trx
      .insertInto('ledger_entry')
      .values({
        ...blankEntry(tenantId, Date.now(), 'adjustment'),
        amount_nano: amount,
        admin: 'test',
        reason: 'in flight',
        node: 'writer-slow',
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    await sql`update account set balance_nano = balance_nano + ${amount} where tenant_id = ${tenantId}`.execute(trx);
    taken(Number(row.id));
    await gate;
  });
  const id = await idTaken;
  return {
    id,
    commit: async () => {
      commit();
      await done;
    },
    abandon: () => commit(),
  };
}

/** A credit committed at once, in another account: it takes a higher id than the one in flight. */
async function committedCredit(db: Kysely<Database>, tenantId: string, amount: number): Promise<number> {
  return db.transaction().execute(async (trx) => {
    const row = await trx
      .insertInto('ledger_entry')
      .values({
        ...blankEntry(tenantId, Date.now(), 'adjustment'),
        amount_nano: amount,
        admin: 'test',
        reason: 'committed first',
        node: 'writer-fast',
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    await sql`update account set balance_nano = balance_nano + ${amount} where tenant_id = ${tenantId}`.execute(trx);
    return Number(row.id);
  });
}

/**
 * Two other processes' credits committed out of id order: 3 USD to `inFlight` takes its id first and waits for
 * `commit()`, 2 USD to `committed` takes a higher id and commits at once.
 */
async function creditsOutOfOrder(reopen: () => Promise<Store>, inFlight: string, committed: string) {
  const slow = await reopen();
  const fast = await reopen();
  const open = await openCredit(slow.db, inFlight, 3 * USD);
  const fastId = await committedCredit(fast.db, committed, 2 * USD);
  assert.ok(fastId > open.id, `ids ${open.id} then ${fastId}`);
  return open;
}

forEachDatabase('ledger: entries in flight while accounts load or the process starts', (suite) => {
  it('an entry committed after a load’s snapshot, with an id below the ledger’s newest then, reaches memory once', async (t) => {
    if (suite.kind !== 'postgres') return t.skip('two writers committing out of id order: PostgreSQL');
    const db = await suite.fresh();
    const { store } = db;
    await openAccounts(store, ['fl_load', 'fl_other']);
    const reader = new Ledger({ db: store.db, dialect: 'postgres', pollMs: 5, accountIdleMs: 60_000 });
    await reader.start({ recover: false });
    let abandon = () => {};
    try {
      await reader.use('fl_other');
      const inFlight = await creditsOutOfOrder(db.reopen, 'fl_load', 'fl_other');
      abandon = inFlight.abandon;
      // The poll reads past both ids (the one in flight is a gap it waits for).
      await waitFor(() => reader.account('fl_other')?.balanceNano === 2 * USD, 'the poll applies the committed entry');
      // The account is loaded now: its snapshot sees the newer id, not the one in flight.
      await reader.use('fl_load');
      assert.equal(reader.account('fl_load')?.balanceNano, 0);
      await inFlight.commit();
      await waitFor(
        () => reader.account('fl_load')?.balanceNano === 3 * USD,
        'the poll applies the entry that was in flight',
      );
      await sleep(50); // several more polls: once only
      await agrees(store, reader, 'fl_load');
      await agrees(store, reader, 'fl_other');
    } finally {
      abandon();
      await reader.close();
    }
  });

  it('an entry the poll reads while a load’s answer is on its way is added to the account once', async (t) => {
    if (suite.kind !== 'postgres') return t.skip('two writers committing out of id order: PostgreSQL');
    const db = await suite.fresh();
    const { store } = db;
    await openAccounts(store, ['fw_load', 'fw_other']);
    // The reader's load query answers only when the test says.
    let open!: () => void;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const held = new Set<unknown>();
    let gated = false;
    const slowLoads: KyselyPlugin = {
      transformQuery(args) {
        const node = args.node as unknown as RawNode;
        if (gated && node.kind === 'RawNode' && node.sqlFragments.join('').includes('from account a')) {
          held.add(args.queryId);
        }
        return args.node;
      },
      async transformResult(args) {
        if (held.delete(args.queryId)) await gate;
        return args.result;
      },
    };
    const reader = new Ledger({
      db: store.db.withPlugin(slowLoads),
      dialect: 'postgres',
      pollMs: 5,
      accountIdleMs: 60_000,
    });
    await reader.start({ recover: false });
    let abandon = () => {};
    try {
      await reader.use('fw_other');
      const inFlight = await creditsOutOfOrder(db.reopen, 'fw_load', 'fw_other');
      abandon = inFlight.abandon;
      await waitFor(() => reader.account('fw_other')?.balanceNano === 2 * USD, 'the poll applies the committed entry');
      gated = true;
      const loading = reader.use('fw_load');
      assert.ok(loading instanceof Promise);
      await sleep(30); // the load's snapshot is taken (without the entry in flight); its answer waits at the gate
      await inFlight.commit();
      await sleep(60); // the poll re-reads the waited-for id: the account is not in memory yet
      open();
      await loading;
      await waitFor(
        () => reader.account('fw_load')?.balanceNano === 3 * USD,
        'the entry that was in flight is counted',
      );
      await sleep(50);
      await agrees(store, reader, 'fw_load');
    } finally {
      abandon();
      open();
      await reader.close();
    }
  });

  it('an entry in flight while a process starts, below the poll’s starting id, reaches memory once', async (t) => {
    if (suite.kind !== 'postgres') return t.skip('two writers committing out of id order: PostgreSQL');
    const db = await suite.fresh();
    const { store } = db;
    await openAccounts(store, ['fs_load', 'fs_other']);
    const inFlight = await creditsOutOfOrder(db.reopen, 'fs_load', 'fs_other');
    // Starts while the entry is in flight: the ledger's newest id is above it.
    const reader = new Ledger({ db: store.db, dialect: 'postgres', pollMs: 5, accountIdleMs: 60_000 });
    try {
      await reader.start({ recover: false });
      await reader.use('fs_load');
      await reader.use('fs_other');
      assert.equal(reader.account('fs_load')?.balanceNano, 0);
      assert.equal(reader.account('fs_other')?.balanceNano, 2 * USD);
      await inFlight.commit();
      await waitFor(
        () => reader.account('fs_load')?.balanceNano === 3 * USD,
        'the poll applies the entry that was in flight',
      );
      await sleep(50);
      await agrees(store, reader, 'fs_load');
      await agrees(store, reader, 'fs_other');
    } finally {
      inFlight.abandon();
      await reader.close();
    }
  });
});
