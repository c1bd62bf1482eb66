import assert from 'node:assert/strict';
import { it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Ledger } from '../../src/billing/ledger.ts';
import { heartbeat } from '../../src/billing/sweep.ts';
import { verifyLedger } from '../../src/billing/verify.ts';
import type { Store } from '../../src/store/db.ts';
import { writeUsageBatch } from '../../src/store/usage.ts';
import { forEachDatabase } from '../helpers/databases.ts';
import { chargedRecord } from '../store/support.ts';

/**
 * The stale-hold sweep's rule on the store (src/billing/sweep.ts, docs/billing.md "Stale holds"), with two
 * ledgers standing for two processes and one clock the test moves: a process that keeps beating keeps its
 * holds however old; once its heartbeat is older than the node timeout, another process closes them (settled
 * at the recorded cost, else released); and on PostgreSQL the owner's late settlement of a swept hold is
 * dropped, so the hold is closed once and `ledger verify` passes.
 */
const T = 1_000;

forEachDatabase('stale-hold sweep', (suite) => {
  it('a beating process keeps its holds; a silent one’s are settled at the recorded cost or released', async () => {
    const { store } = (await suite.fresh()) as { store: Store };
    await store.db
      .insertInto('tenant')
      .values({ id: 'acme', name: 'acme', links_valid_after: 0, created_at: 0, updated_at: 0 })
      .execute();
    let now = Date.now();
    const errors: string[] = [];
    const options = {
      db: store.db,
      dialect: store.dialect,
      flushIntervalMs: 10,
      pollMs: 20,
      sweepIntervalMs: 3_600_000, // rounds run by the test
      nodeTimeoutMs: T,
      now: () => now,
      onError: (err: unknown) => errors.push(String(err)),
    };
    const a = new Ledger(options);
    const b = new Ledger(options);
    await a.start({ recover: false });
    await b.start({ recover: false });
    try {
      await a.manual({ tenantId: 'acme', kind: 'credit', amountNano: 10_000_000_000, admin: 't', reason: 't' });
      const h1 = a.hold({ tenantId: 'acme', keyId: null, requestId: 'req_sweep_1', amountNano: 50_000_000 });
      const h2 = a.hold({ tenantId: 'acme', keyId: null, requestId: 'req_sweep_2', amountNano: 50_000_000 });
      // An execution's hold (docs/executions.md): the execution queue closes it, whatever becomes of A.
      const h3 = a.hold({ tenantId: 'acme', keyId: null, requestId: 'exec_sweep_3', amountNano: 50_000_000 });
      assert.ok(h1.ok && h2.ok && h3.ok);
      await a.flush();
      await store.db
        .insertInto('execution')
        .values({
          id: 'exec_sweep_3',
          tenant_id: 'acme',
          key_id: null,
          model: 'm',
          resolved_model: 'up/m',
          kind: 'chat',
          provider: null,
          status: 'PENDING',
          input: '{}',
          caller: '{}',
          webhook_url: null,
          metadata: null,
          estimated_nano: 50_000_000,
          held_nano: 50_000_000,
          attempts: 0,
          run_after: now,
          deadline_at: now + 3_600_000,
          lease_owner: null,
          lease_until: null,
          created_at: now,
          started_at: null,
          completed_at: null,
          output: null,
          usage: null,
          cost_nano: null,
          served_by: null,
          error_code: null,
          error_message: null,
        })
        .execute();

      // Five node timeouts later, A still beats: nothing is swept, by A (its own) or by B.
      now += 5 * T;
      assert.equal(await a.sweep(), 0);
      assert.equal(await b.sweep(), 0);
      assert.equal((await verifyLedger(store.db)).openHolds, 3, 'a live process keeps its old holds');

      // A falls silent (killed, or cut off) for longer than the node timeout: B closes both.
      await writeUsageBatch(store.db, [chargedRecord('req_sweep_1', 'acme', 12_000_000)]);
      await b.use('acme'); // B serves acme too: its account is in B's memory (ADR 0043)
      now += 2 * T;
      assert.equal(await b.sweep(), 2);
      const closes = await store.db
        .selectFrom('ledger_entry')
        .select(['hold_id', 'kind', 'amount_nano', 'node', 'reason'])
        .where('hold_id', 'in', ['req_sweep_1', 'req_sweep_2'])
        .where('kind', '!=', 'hold')
        .orderBy('hold_id')
        .execute();
      assert.deepEqual(
        closes.map((c) => [c.hold_id, c.kind, Number(c.amount_nano), c.node]),
        [
          ['req_sweep_1', 'settle', -12_000_000, b.node],
          ['req_sweep_2', 'release', 0, b.node],
        ],
      );
      assert.match(closes[0]!.reason ?? '', /stopped beating/);
      assert.equal(b.account('acme')!.heldNano, 50_000_000, 'the sweeper applies its entries to its own view');
      assert.equal(b.account('acme')!.balanceNano, 10_000_000_000 - 12_000_000);
      assert.equal(await b.sweep(), 0, 'a hold is swept once');
      let verified = await verifyLedger(store.db);
      assert.deepEqual(verified.problems, []);
      assert.equal(verified.openHolds, 1, 'the execution’s hold is left to the execution queue');
      h3.hold.release();

      if (store.dialect === 'postgres') {
        // A was only cut off and comes back: its own settlement of the swept hold is dropped, not written.
        h1.hold.settle(20_000_000);
        h2.hold.release();
        await a.flush();
        verified = await verifyLedger(store.db);
        assert.deepEqual(verified.problems, [], 'each hold closed once');
        assert.equal(verified.openHolds, 0);
        assert.ok(errors.some((e) => /already closed by another process/.test(e)));
        // A's view converges on the database once it has polled B's entries.
        await sleep(200);
        const row = await store.db
          .selectFrom('account')
          .select(['balance_nano', 'held_nano'])
          .where('tenant_id', '=', 'acme')
          .executeTakeFirstOrThrow();
        assert.equal(a.account('acme')!.balanceNano, Number(row.balance_nano));
        assert.equal(a.account('acme')!.heldNano, Number(row.held_nano));
        assert.equal(Number(row.balance_nano), 10_000_000_000 - 12_000_000, 'charged the swept cost only');
      }
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('shared: a start closes old holds of dead processes only, never those of a process still beating', async (t) => {
    if (suite.kind !== 'postgres') return t.skip('several processes share a database only on PostgreSQL');
    const { store } = (await suite.fresh()) as { store: Store };
    await store.db
      .insertInto('tenant')
      .values({ id: 'acme', name: 'acme', links_valid_after: 0, created_at: 0, updated_at: 0 })
      .execute();
    let now = Date.now();
    const options = {
      db: store.db,
      dialect: store.dialect,
      shared: true,
      staleHoldMs: T,
      flushIntervalMs: 10,
      sweepIntervalMs: 3_600_000,
      nodeTimeoutMs: 3 * T,
      now: () => now,
    };
    const live = new Ledger(options);
    const dead = new Ledger(options);
    await live.start({ recover: true });
    await live.manual({ tenantId: 'acme', kind: 'credit', amountNano: 1_000_000_000, admin: 't', reason: 't' });
    await dead.start({ recover: true });
    // Shared holds are written by the conditional update at once.
    const mine = await live.reserve({ tenantId: 'acme', keyId: null, requestId: 'req_live', amountNano: 10_000_000 });
    const theirs = await dead.reserve({ tenantId: 'acme', keyId: null, requestId: 'req_dead', amountNano: 10_000_000 });
    assert.ok(mine.ok && theirs.ok);
    // Older than staleHoldMs; the live process beats, the other has stopped for longer than the node timeout.
    now += 5 * T;
    await heartbeat(store.db, live.node, now); // its beat (a sweep round would close the other's hold itself)
    const starting = new Ledger(options);
    const closed = await starting.start({ recover: true });
    assert.deepEqual(closed, { settled: 0, released: 1 });
    const open = (await verifyLedger(store.db)).openHolds;
    assert.equal(open, 1, 'the live process keeps its hold');
    mine.hold.release();
    await live.flush();
    const verified = await verifyLedger(store.db);
    assert.deepEqual(verified.problems, []);
    assert.equal(verified.openHolds, 0);
    await starting.close();
    await live.close();
    await dead.close();
  });
});
