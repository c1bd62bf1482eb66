import assert from 'node:assert/strict';
import { it } from 'node:test';
import { type KyselyPlugin, type RawNode, sql } from 'kysely';
import { monthStart } from '../../src/billing/amounts.ts';
import { blankEntry } from '../../src/billing/entries.ts';
import { Ledger } from '../../src/billing/ledger.ts';
import { verifyLedger } from '../../src/billing/verify.ts';
import type { Store } from '../../src/store/db.ts';
import { backfillLedgerMonths } from '../../src/store/migrations/0017-ledger-month.ts';
import { writeUsageBatch } from '../../src/store/usage.ts';
import { forEachDatabase } from '../helpers/databases.ts';
import { chargedRecord } from '../store/support.ts';
import { waitFor } from '../tenancy/helpers.ts';

/**
 * The month's spend as a cached figure (ADR 0046, table `ledger_month`): every writer of settlements (the
 * batched writer of chat holds, an execution's close, the stale-hold sweep) moves it in the transaction of its
 * entries, each entry in the month of its own `at`; a cold load reads that one row and no ledger entry for the
 * spend; `ledger verify` checks each cached month against the entries; the migration's backfill agrees with
 * `monthStart` at the month boundaries.
 */

const USD = 1_000_000_000;
const T = 1_000;

async function tenant(store: Store, id: string): Promise<void> {
  await store.db
    .insertInto('tenant')
    .values({ id, name: id, links_valid_after: 0, created_at: 0, updated_at: 0 })
    .execute();
}

/** The cached months of a tenant, oldest first. */
async function cachedMonths(store: Store, tenantId: string): Promise<Array<[number, number]>> {
  const rows = await store.db
    .selectFrom('ledger_month')
    .select(['month_start', 'spent_nano'])
    .where('tenant_id', '=', tenantId)
    .orderBy('month_start')
    .execute();
  return rows.map((r) => [Number(r.month_start), Number(r.spent_nano)]);
}

/** The charges of a tenant's settlements, by the month of their `at`, oldest first (what the cache must hold). */
async function summedMonths(store: Store, tenantId: string): Promise<Array<[number, number]>> {
  const rows = await store.db
    .selectFrom('ledger_entry')
    .select(['at', 'amount_nano'])
    .where('tenant_id', '=', tenantId)
    .where('kind', '=', 'settle')
    .execute();
  const sums = new Map<number, number>();
  for (const r of rows) {
    const month = monthStart(Number(r.at));
    sums.set(month, (sums.get(month) ?? 0) - Number(r.amount_nano));
  }
  return [...sums.entries()].filter(([, spent]) => spent !== 0).sort((x, y) => x[0] - y[0]);
}

forEachDatabase('ledger: the month’s spend cached', (suite) => {
  for (const shared of [false, true]) {
    it(`equals the sum of settlements after chat settles, an execution's close and a sweep (shared: ${shared})`, async (t) => {
      if (shared && suite.kind === 'sqlite') return t.skip('shared billing is PostgreSQL only');
      const { store } = await suite.fresh();
      await tenant(store, 'acme');
      let now = Date.now();
      const options = {
        db: store.db,
        dialect: store.dialect,
        shared,
        flushIntervalMs: 10,
        pollMs: 20,
        sweepIntervalMs: 3_600_000, // rounds run by the test
        nodeTimeoutMs: T,
        now: () => now,
      };
      const a = new Ledger(options);
      const b = new Ledger(options);
      await a.start({ recover: false });
      await b.start({ recover: false });
      try {
        await a.manual({ tenantId: 'acme', kind: 'credit', amountNano: 10 * USD, admin: 't', reason: 't' });
        // Chat holds through the batched writer: two settled, one released (which spends nothing).
        const holds = ['req_m1', 'req_m2', 'req_m3'].map((requestId) => {
          const held = a.reserve({ tenantId: 'acme', keyId: null, requestId, amountNano: 50_000_000 });
          return held;
        });
        const [h1, h2, h3] = await Promise.all(holds);
        assert.ok(h1?.ok && h2?.ok && h3?.ok);
        h1.hold.settle(3_000_000);
        h2.hold.release();
        h3.hold.settle(7_000);
        await a.flush();
        assert.deepEqual(await cachedMonths(store, 'acme'), [[monthStart(now), 3_007_000]]);

        // An execution's hold, closed once by A (account in memory) and once by B (not in its memory: ADR 0043).
        for (const [requestId, closer, cost] of [
          ['exec_m1', a, 250_000],
          ['exec_m2', b, 400_000],
        ] as const) {
          const prepared = a.prepareDurableHold({ tenantId: 'acme', keyId: null, requestId, amountNano: 1_000_000 });
          assert.ok(prepared.ok);
          assert.equal(await store.db.transaction().execute((trx) => prepared.write(trx)), true);
          prepared.committed();
          const closed = await store.db.transaction().execute((trx) =>
            closer.closeDurableHold(trx, {
              tenantId: 'acme',
              holdId: requestId,
              keyId: null,
              heldNano: 1_000_000,
              costNano: cost,
            }),
          );
          assert.equal(closed.charged, cost);
          closed.apply();
        }
        assert.deepEqual(await cachedMonths(store, 'acme'), [[monthStart(now), 3_657_000]]);

        // A hold A leaves open and stops beating: B's sweep settles it at the recorded cost.
        const h4 = await a.reserve({ tenantId: 'acme', keyId: null, requestId: 'req_m4', amountNano: 50_000_000 });
        assert.ok(h4.ok);
        await a.flush();
        await writeUsageBatch(store.db, [chargedRecord('req_m4', 'acme', 12_000_000)]);
        now += 2 * T;
        assert.equal(await b.sweep(), 1);
        const expected: Array<[number, number]> = [[monthStart(now), 15_657_000]];
        assert.deepEqual(await summedMonths(store, 'acme'), expected);
        assert.deepEqual(await cachedMonths(store, 'acme'), expected, 'the cache equals the sum');

        const verified = await verifyLedger(store.db);
        assert.deepEqual(verified.problems, []);
        assert.equal(verified.months, 1);
        // A's memory (its own settles, the poll for B's) and a cold load agree with it.
        await waitFor(() => a.account('acme')?.monthSpendNano === 15_657_000, 'A sees B’s settlements');
        const cold = new Ledger({ db: store.db, dialect: store.dialect, now: () => now });
        await cold.start({ recover: false });
        assert.equal((await cold.view('acme'))?.monthSpendNano, 15_657_000);
        await cold.close();
      } finally {
        await a.close();
        await b.close();
      }
    });
  }

  it('a batch straddling midnight of the 1st counts each settlement in its own month; verify catches a tampered month', async () => {
    const { store } = await suite.fresh();
    await tenant(store, 'acme');
    const jan = Date.UTC(2027, 0, 1);
    const feb = Date.UTC(2027, 1, 1);
    let now = feb - 10;
    // No timer flush during the test: one batch written by the explicit flush below.
    const ledger = new Ledger({ db: store.db, dialect: store.dialect, flushIntervalMs: 3_600_000, now: () => now });
    await ledger.start({ recover: false });
    try {
      await ledger.manual({ tenantId: 'acme', kind: 'credit', amountNano: USD, admin: 't', reason: 't' });
      const before = ledger.hold({ tenantId: 'acme', keyId: null, requestId: 'req_jan', amountNano: 5_000_000 });
      const late = ledger.hold({ tenantId: 'acme', keyId: null, requestId: 'req_late', amountNano: 5_000_000 });
      assert.ok(before.ok && late.ok);
      before.hold.settle(1_000_000);
      now = feb + 10;
      late.hold.settle(2_000_000); // opened in January, settled in February: February's spend
      const after = ledger.hold({ tenantId: 'acme', keyId: null, requestId: 'req_feb', amountNano: 5_000_000 });
      assert.ok(after.ok);
      after.hold.settle(30_000);
      await ledger.flush();
      assert.deepEqual(await cachedMonths(store, 'acme'), [
        [jan, 1_000_000],
        [feb, 2_030_000],
      ]);
      assert.deepEqual(await summedMonths(store, 'acme'), await cachedMonths(store, 'acme'));
      assert.equal(ledger.account('acme')?.monthSpendNano, 2_030_000, 'memory rolled to February');
      const cold = new Ledger({ db: store.db, dialect: store.dialect, now: () => now });
      await cold.start({ recover: false });
      assert.equal((await cold.view('acme'))?.monthSpendNano, 2_030_000, 'a cold load reads February');
      await cold.close();
      const ok = await verifyLedger(store.db);
      assert.deepEqual(ok.problems, []);
      assert.equal(ok.months, 2);

      // Tampered: one nano-dollar more, a month deleted, a month invented.
      await store.db
        .updateTable('ledger_month')
        .set({ spent_nano: sql<number>`spent_nano + 1` })
        .where('tenant_id', '=', 'acme')
        .where('month_start', '=', feb)
        .execute();
      await store.db.deleteFrom('ledger_month').where('month_start', '=', jan).execute();
      await store.db
        .insertInto('ledger_month')
        .values({ tenant_id: 'acme', month_start: jan - 1, spent_nano: 5 })
        .execute();
      const tampered = await verifyLedger(store.db);
      assert.equal(tampered.ok, false);
      assert.deepEqual(tampered.problems.sort(), [
        "account 'acme': settlements of 2026-12 sum to $0.000000000, cached month's spend is $0.000000005",
        "account 'acme': settlements of 2027-01 sum to $0.001000000, cached month's spend is $0.000000000",
        "account 'acme': settlements of 2027-02 sum to $0.002030000, cached month's spend is $0.002030001",
      ]);
    } finally {
      await ledger.close();
    }
  });

  it('a cold load reads the cached row: no ledger entry is read for the spend', async () => {
    const { store } = await suite.fresh();
    await tenant(store, 'acme');
    const writer = new Ledger({ db: store.db, dialect: store.dialect });
    await writer.start({ recover: false });
    await writer.manual({ tenantId: 'acme', kind: 'credit', amountNano: USD, admin: 't', reason: 't' });
    for (let i = 0; i < 20; i++) {
      const h = writer.hold({ tenantId: 'acme', keyId: null, requestId: `req_cold_${i}`, amountNano: 1_000_000 });
      assert.ok(h.ok);
      h.hold.settle(1_000);
    }
    await writer.close();
    assert.deepEqual(await cachedMonths(store, 'acme'), [[monthStart(Date.now()), 20_000]]);
    // A figure no sum of entries gives: a load that summed the entries would answer 20,000.
    await store.db
      .updateTable('ledger_month')
      .set({ spent_nano: 123_456_789 })
      .where('tenant_id', '=', 'acme')
      .execute();
    const loads: string[] = [];
    const capture: KyselyPlugin = {
      transformQuery(args) {
        const node = args.node as unknown as RawNode;
        if (node.kind === 'RawNode' && node.sqlFragments.join('').includes(' as seen')) {
          // The statement as sent, nested fragments included.
          loads.push(store.db.getExecutor().compileQuery(args.node, args.queryId).sql);
        }
        return args.node;
      },
      transformResult: async (args) => args.result,
    };
    for (const pollMs of [undefined, 20]) {
      const ledger = new Ledger({ db: store.db.withPlugin(capture), dialect: store.dialect, pollMs });
      await ledger.start({ recover: false });
      try {
        assert.equal((await ledger.view('acme'))?.monthSpendNano, 123_456_789, 'the spend is the cached row');
      } finally {
        await ledger.close();
      }
    }
    assert.equal(loads.length, 2);
    // Without a poll the load reads the account and its month row only.
    assert.doesNotMatch(loads[0]!, /ledger_entry/);
    assert.match(loads[0]!, /from ledger_month m/);
    // With one, ledger_entry only for `seen` (the ids above the poll's cursor); no sum over settlements.
    assert.equal(loads[1]!.match(/ledger_entry/g)?.length, 1);
    assert.doesNotMatch(loads[1]!, /sum\(|'settle'/);
    if (suite.kind === 'sqlite') {
      // And SQLite's plan: the month row by its primary key, no scan of the ledger.
      const plan = await sql<{ detail: string }>`explain query plan
        select a.plan_id, coalesce((select m.spent_nano from ledger_month m
          where m.tenant_id = a.tenant_id and m.month_start = ${monthStart(Date.now())}), 0) as spent
        from account a where a.tenant_id = ${'acme'}`.execute(store.db);
      const details = plan.rows.map((r) => r.detail).join('\n');
      assert.match(details, /SEARCH m USING (INDEX|PRIMARY KEY)/);
      assert.doesNotMatch(details, /ledger_entry|SCAN/);
    }
  });

  it('the migration’s backfill sums settlements by the UTC month of their `at`, like monthStart', async () => {
    const { store } = await suite.fresh();
    const at = [
      Date.UTC(2027, 0, 31, 23, 59, 59, 999),
      Date.UTC(2027, 1, 1),
      Date.UTC(2027, 1, 1, 0, 0, 0, 1),
      Date.UTC(2028, 1, 29, 23, 59, 59, 999),
      Date.UTC(2028, 2, 1),
      Date.UTC(2026, 11, 31, 12),
      Date.UTC(1999, 11, 31, 23, 59, 59, 999),
    ];
    const entries = at.flatMap((time, i) => [
      { ...blankEntry('bf', time, 'settle'), amount_nano: -(i + 1) * 1_000, held_nano: 0, node: 'seed' },
      // Not spend: a refund, an adjustment, a release.
      { ...blankEntry('bf', time, 'refund'), amount_nano: -7, node: 'seed' },
      { ...blankEntry('bf', time, 'adjustment'), amount_nano: -9, node: 'seed' },
      { ...blankEntry('bf', time, 'release'), node: 'seed' },
      { ...blankEntry('other', time, 'settle'), amount_nano: -1, node: 'seed' },
    ]);
    await store.db.insertInto('ledger_entry').values(entries).execute();
    await backfillLedgerMonths(store.db, store.dialect);
    assert.deepEqual(await cachedMonths(store, 'bf'), await summedMonths(store, 'bf'));
    assert.deepEqual(await cachedMonths(store, 'bf'), [
      [Date.UTC(1999, 11, 1), 7_000],
      [Date.UTC(2026, 11, 1), 6_000],
      [Date.UTC(2027, 0, 1), 1_000],
      [Date.UTC(2027, 1, 1), 5_000],
      [Date.UTC(2028, 1, 1), 4_000],
      [Date.UTC(2028, 2, 1), 5_000],
    ]);
    assert.equal((await cachedMonths(store, 'other')).length, 6);
  });
});
