import assert from 'node:assert/strict';
import { it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KyselyPlugin, RawNode } from 'kysely';
import { monthStart } from '../../src/billing/amounts.ts';
import { blankEntry } from '../../src/billing/entries.ts';
import { Ledger } from '../../src/billing/ledger.ts';
import { verifyLedger } from '../../src/billing/verify.ts';
import type { Store } from '../../src/store/db.ts';
import type { LedgerKind } from '../../src/store/ledger-tables.ts';
import { forEachDatabase } from '../helpers/databases.ts';
import { entrySums } from './fixtures.ts';

/**
 * The ledger's accounts follow use (ADR 0043): a start reads no account; a cold account is loaded by its
 * first use with one query and answers like the ledger's sum; an idle one leaves memory; a tenant without an
 * account is remembered until one is opened elsewhere; and a cold load racing the poll of another process's
 * entries counts each entry once.
 */

const ACCOUNTS = 5_000;
const USD = 1_000_000_000;

/** `n` billed tenants, each with a deposit, a settled request and a credit: the cached balance as the sum. */
async function seed(store: Store, n: number, prefix = 'lz'): Promise<void> {
  const now = Date.now();
  for (let from = 0; from < n; from += 250) {
    const ids = Array.from({ length: Math.min(250, n - from) }, (_, i) => `${prefix}${from + i}`);
    await store.db.transaction().execute(async (tx) => {
      await tx
        .insertInto('tenant')
        .values(ids.map((id) => ({ id, name: id, links_valid_after: 0, created_at: 0, updated_at: 0 })))
        .execute();
      const entry = (id: string, kind: LedgerKind) => ({
        ...blankEntry(id, now, kind),
        admin: 'seed',
        reason: 'seed',
        node: 'seed',
      });
      const entries = ids.flatMap((id, i) => {
        const n = from + i;
        return [
          { ...entry(id, 'adjustment'), amount_nano: 10 * USD + n },
          { ...entry(id, 'hold'), held_nano: 10_000, hold_id: `r_${id}`, admin: null },
          {
            ...entry(id, 'settle'),
            amount_nano: -(1_000 + n),
            held_nano: -10_000,
            hold_id: `r_${id}`,
            admin: null,
          },
        ];
      });
      await tx.insertInto('ledger_entry').values(entries).execute();
      await tx
        .insertInto('account')
        .values(
          ids.map((id, i) => ({
            tenant_id: id,
            plan_id: null,
            balance_nano: 10 * USD + (from + i) - (1_000 + from + i),
            held_nano: 0,
            created_at: 0,
          })),
        )
        .execute();
      // The month's spend as the writers cache it (ADR 0046).
      await tx
        .insertInto('ledger_month')
        .values(ids.map((id, i) => ({ tenant_id: id, month_start: monthStart(now), spent_nano: 1_000 + from + i })))
        .execute();
    });
  }
}

forEachDatabase('ledger accounts on first use', (suite) => {
  it(`a start with ${ACCOUNTS} accounts holds none; a cold account loads with its first use and answers its sum`, async () => {
    const { store } = await suite.fresh();
    await seed(store, ACCOUNTS);
    const ledger = new Ledger({ db: store.db, dialect: store.dialect, pollMs: 20, flushIntervalMs: 5 });
    await ledger.start({ recover: true });
    try {
      assert.deepEqual(ledger.cacheStats, { accounts: 0, unbilled: 0, loads: 0, evictions: 0 });
      assert.equal(ledger.billed('lz4321'), false, 'not in memory before its first use');
      const cold = ledger.use('lz4321');
      assert.ok(cold instanceof Promise, 'a cold account is one awaited query');
      await cold;
      assert.equal(ledger.use('lz4321'), undefined, 'a warm one answers synchronously');
      assert.deepEqual(ledger.cacheStats, { accounts: 1, unbilled: 0, loads: 1, evictions: 0 });
      const expected = await entrySums(store, 'lz4321');
      const view = ledger.account('lz4321')!;
      assert.equal(view.balanceNano, expected.balance);
      assert.equal(view.balanceNano, 10 * USD + 4321 - (1_000 + 4321));
      assert.equal(view.heldNano, 0);
      assert.equal(view.monthSpendNano, 1_000 + 4321);

      // The warm hold path: synchronous, exact, and settled into the sum.
      const held = ledger.reserve({ tenantId: 'lz4321', keyId: null, requestId: 'req_lz_1', amountNano: 2 * USD });
      assert.ok(!(held instanceof Promise) && held.ok);
      assert.equal(held.hold.settle(123_456), 123_456);
      await ledger.flush();
      assert.equal(ledger.account('lz4321')!.balanceNano, (await entrySums(store, 'lz4321')).balance);

      // A cold account reached by the hold itself (not through `use`) is loaded first, then held.
      const late = ledger.reserve({ tenantId: 'lz17', keyId: null, requestId: 'req_lz_2', amountNano: 11 * USD });
      assert.ok(late instanceof Promise);
      const refused = await late;
      assert.ok(!refused.ok);
      assert.equal(refused.error.code, 'quota_exceeded');
      assert.match(refused.error.message, /\$9\.999999000 is available/);

      // Concurrent first uses of one account share one query; a tenant with no account is remembered.
      await Promise.all([ledger.use('lz99'), ledger.use('lz99'), ledger.use('lz99'), ledger.use('nobody')]);
      assert.deepEqual(ledger.cacheStats, { accounts: 3, unbilled: 1, loads: 4, evictions: 0 });
      assert.equal(ledger.billed('nobody'), false);
      assert.equal(ledger.use('nobody'), undefined, 'no query per request for an unbilled tenant');
      assert.deepEqual((await verifyLedger(store.db)).problems, []);
    } finally {
      await ledger.close();
    }
  });

  it('idle accounts leave memory unless this process has a hold open on them; they come back exact', async () => {
    const { store } = await suite.fresh();
    await seed(store, 3);
    let now = Date.now();
    const ledger = new Ledger({ db: store.db, dialect: store.dialect, accountIdleMs: 60_000, now: () => now });
    await ledger.start({ recover: false });
    try {
      await Promise.all([ledger.use('lz0'), ledger.use('lz1'), ledger.use('lz2'), ledger.use('nobody')]);
      const open = ledger.hold({ tenantId: 'lz1', keyId: null, requestId: 'req_idle_1', amountNano: USD });
      assert.ok(open.ok);
      now += 30_000;
      ledger.use('lz2');
      assert.equal(ledger.evictIdle(), 0, 'nothing idle for a minute yet');
      now += 40_000;
      assert.equal(ledger.evictIdle(), 2, 'lz0 and the unbilled tenant; lz1 has a hold open, lz2 was used');
      assert.equal(ledger.billed('lz0'), false);
      assert.equal(ledger.billed('lz1'), true);
      open.hold.settle(250_000_000);
      await ledger.flush();
      now += 61_000;
      assert.equal(ledger.evictIdle(), 2);
      assert.deepEqual(ledger.cacheStats, { accounts: 0, unbilled: 0, loads: 4, evictions: 4 });
      const back = await ledger.view('lz1');
      assert.equal(back?.balanceNano, (await entrySums(store, 'lz1')).balance);
      assert.equal(back?.balanceNano, 10 * USD + 1 - 1_001 - 250_000_000);
      assert.equal(back?.monthSpendNano, 1_001 + 250_000_000);
    } finally {
      await ledger.close();
    }
  });

  it('a tenant remembered as not billed is billed once another process opens its account', async () => {
    const { store } = await suite.fresh();
    await store.db
      .insertInto('tenant')
      .values({ id: 'later', name: 'later', links_valid_after: 0, created_at: 0, updated_at: 0 })
      .execute();
    const gateway = new Ledger({ db: store.db, dialect: store.dialect, pollMs: 20 });
    const cli = new Ledger({ db: store.db, dialect: store.dialect });
    await gateway.start({ recover: false });
    await cli.start({ recover: false });
    try {
      await gateway.use('later');
      assert.equal(gateway.billed('later'), false);
      await cli.manual({
        tenantId: 'later',
        kind: 'credit',
        amountNano: 2 * USD,
        admin: 't',
        reason: 'opened elsewhere',
      });
      for (let i = 0; i < 100 && gateway.cacheStats.unbilled > 0; i++) await sleep(10);
      assert.equal(gateway.cacheStats.unbilled, 0, 'the poll forgot that it had no account');
      await gateway.use('later');
      assert.equal(gateway.billed('later'), true);
      assert.equal(gateway.account('later')!.balanceNano, 2 * USD);
    } finally {
      await cli.close();
      await gateway.close();
    }
  });

  it('entries the poll passes while a cold load is under way are added to it once', async () => {
    const { store } = await suite.fresh();
    await seed(store, 2, 'gap');
    // The reader's load query answers only when the test says, after the poll has gone past a new entry.
    let open!: () => void;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const held = new Set<unknown>();
    const slowLoads: KyselyPlugin = {
      transformQuery(args) {
        const node = args.node as unknown as RawNode;
        if (node.kind === 'RawNode' && node.sqlFragments.join('').includes(' as seen')) held.add(args.queryId);
        return args.node;
      },
      async transformResult(args) {
        if (held.delete(args.queryId)) await gate;
        return args.result;
      },
    };
    const writer = new Ledger({ db: store.db, dialect: store.dialect });
    const reader = new Ledger({ db: store.db.withPlugin(slowLoads), dialect: store.dialect, pollMs: 5 });
    await writer.start({ recover: false });
    await reader.start({ recover: false });
    try {
      await writer.use('gap0');
      const loading = reader.use('gap0');
      assert.ok(loading instanceof Promise);
      await sleep(20); // the load's snapshot is taken; its answer waits at the gate
      await writer.manual({ tenantId: 'gap0', kind: 'credit', amountNano: 777, admin: 't', reason: 'during the load' });
      await writer.manual({ tenantId: 'gap1', kind: 'credit', amountNano: 5, admin: 't', reason: 'another account' });
      await sleep(60); // the poll reads both and skips them: gap0 is not in memory yet
      open();
      await loading;
      const expected = await entrySums(store, 'gap0');
      assert.equal(reader.account('gap0')!.balanceNano, expected.balance, 'the passed credit was added');
      await writer.manual({ tenantId: 'gap0', kind: 'credit', amountNano: 11, admin: 't', reason: 'after the load' });
      await sleep(60);
      assert.equal(reader.account('gap0')!.balanceNano, expected.balance + 11, 'and not again by the poll');
    } finally {
      await writer.close();
      await reader.close();
    }
  });

  it('a cold load the database fails is not remembered: the next use tries again', async () => {
    const { store } = await suite.fresh();
    await seed(store, 1, 'down');
    let failures = 1;
    const flaky: KyselyPlugin = {
      transformQuery: (args) => args.node,
      async transformResult(args) {
        if (failures > 0 && 'rows' in args.result && args.result.rows.some((r) => 'seen' in r)) {
          failures--;
          throw new Error('connection lost');
        }
        return args.result;
      },
    };
    const ledger = new Ledger({ db: store.db.withPlugin(flaky), dialect: store.dialect });
    await ledger.start({ recover: false });
    try {
      await assert.rejects(async () => ledger.use('down0'), /connection lost/);
      assert.deepEqual(
        { accounts: ledger.cacheStats.accounts, unbilled: ledger.cacheStats.unbilled },
        { accounts: 0, unbilled: 0 },
      );
      await ledger.use('down0');
      assert.equal(ledger.account('down0')?.balanceNano, (await entrySums(store, 'down0')).balance);
    } finally {
      await ledger.close();
    }
  });

  it('cold loads racing the poll of another process’s entries count each entry once', async (t) => {
    if (suite.kind !== 'postgres') return t.skip('another process writing while this one loads: PostgreSQL');
    const db = await suite.fresh();
    await seed(db.store, 40, 'race');
    const other = await db.reopen();
    const writer = new Ledger({ db: other.db, dialect: 'postgres', flushIntervalMs: 1 });
    const reader = new Ledger({ db: db.store.db, dialect: 'postgres', pollMs: 1, accountIdleMs: 60_000 });
    await writer.start({ recover: false });
    await reader.start({ recover: false });
    const tenants = Array.from({ length: 40 }, (_, i) => `race${i}`);
    let writing = true;
    let n = 0;
    try {
      // The other process credits and charges the 40 accounts without pause...
      const writes = (async () => {
        while (writing) {
          const tenantId = tenants[n % tenants.length]!;
          await writer.use(tenantId);
          await writer.manual({ tenantId, kind: 'credit', amountNano: 1_000 + n, admin: 't', reason: 'race' });
          const held = writer.hold({ tenantId, keyId: null, requestId: `req_race_${n}`, amountNano: 5_000 });
          if (held.ok) held.hold.settle(700 + (n % 7));
          n++;
        }
        await writer.flush();
        return n;
      })();
      // ...while this one loads them cold, over and over (dropped each round), with its poll running every 1 ms.
      let rounds = 0;
      for (; n < 400 || rounds < 15; rounds++) {
        await Promise.all(tenants.map((id) => reader.use(id)));
        await sleep(3);
        for (const id of tenants) reader.account(id);
        // Dropped: the next round loads them again while entries keep coming.
        reader.evictIdle(Number.MAX_SAFE_INTEGER);
      }
      await Promise.all(tenants.map((id) => reader.use(id)));
      await sleep(20);
      writing = false;
      const written = await writes;
      assert.ok(written >= 400, `the other process wrote ${written} rounds`);
      // The poll has caught up once it has read past the last entry.
      await sleep(100);
      const verified = await verifyLedger(db.store.db);
      assert.deepEqual(verified.problems, []);
      for (const id of tenants) {
        const expected = await entrySums(db.store, id);
        const view = reader.account(id)!;
        assert.equal(view.balanceNano, expected.balance, `${id}: memory equals the ledger's sum`);
        assert.equal(view.heldNano, expected.held, `${id}: held equals the ledger's sum`);
      }
      assert.equal(reader.cacheStats.loads, (rounds + 1) * tenants.length, 'every round loaded every account cold');
    } finally {
      writing = false;
      await writer.close();
      await reader.close();
    }
  });
});
