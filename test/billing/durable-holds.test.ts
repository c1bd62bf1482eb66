import assert from 'node:assert/strict';
import { it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Ledger } from '../../src/billing/ledger.ts';
import { verifyLedger } from '../../src/billing/verify.ts';
import type { Store } from '../../src/store/db.ts';
import { forEachDatabase } from '../helpers/databases.ts';

/**
 * Execution holds (docs/executions.md, Ledger.prepareDurableHold / closeDurableHold): written in the caller's
 * transaction, closed in another transaction possibly by another process, never closed by the start-up
 * recovery of chat holds, and the opening process forgets them when another closes them.
 */
async function tenantWithBalance(store: Store, ledger: Ledger, id: string, usd: number): Promise<void> {
  const now = Date.now();
  await store.db
    .insertInto('tenant')
    .values({
      id,
      name: id,
      preset: null,
      utility_model: null,
      fast_model: null,
      deep_model: null,
      allowed_models: null,
      groups: null,
      byok_provider: null,
      key_hmac: null,
      links_valid_after: 0,
      created_at: now,
      updated_at: now,
    })
    .execute();
  await ledger.manual({ tenantId: id, kind: 'credit', amountNano: usd * 1e9, admin: 'test', reason: 'test' });
}

forEachDatabase('execution holds', (suite) => {
  for (const shared of [false, true]) {
    it(`placed in a transaction, closed by another process, kept by recovery (shared: ${shared})`, async (t) => {
      if (shared && suite.kind === 'sqlite') {
        t.skip('shared billing is PostgreSQL only');
        return;
      }
      const { store } = await suite.fresh();
      const a = new Ledger({ db: store.db, shared, pollMs: 20 });
      await a.start({ recover: true });
      await tenantWithBalance(store, a, 'acme', 1);
      const b = new Ledger({ db: store.db, shared, pollMs: 20 });
      await b.start({ recover: false });
      try {
        const hold = a.prepareDurableHold({
          tenantId: 'acme',
          keyId: 'k1',
          requestId: 'exec_1',
          amountNano: 600_000_000,
        });
        assert.ok(hold.ok);
        assert.equal(a.account('acme')!.availableNano, 400_000_000, 'reserved in memory at once');
        const written = await store.db.transaction().execute((trx) => hold.write(trx));
        assert.equal(written, true);
        hold.committed();
        assert.equal(a.openHolds, 1);
        // More than what is left: refused in memory (one process) or by the database (shared).
        const second = a.prepareDurableHold({
          tenantId: 'acme',
          keyId: 'k1',
          requestId: 'exec_2',
          amountNano: 500_000_000,
        });
        if (!second.ok) assert.equal(second.error.code, 'quota_exceeded');
        else {
          assert.ok(shared);
          // Shared: this process's view is not checked against the balance; the conditional update refuses it.
          const ok = await store.db.transaction().execute((trx) => second.write(trx));
          assert.equal(ok, false);
          second.forget();
          assert.equal(second.refusal().code, 'quota_exceeded');
        }
        // A restart's recovery leaves a hold alone while its execution row exists; without one it would close it.
        await store.db
          .insertInto('execution')
          .values({
            id: 'exec_1',
            tenant_id: 'acme',
            key_id: 'k1',
            model: 'fast',
            resolved_model: 'fast',
            kind: 'text',
            provider: null,
            status: 'PENDING',
            input: '{}',
            caller: '{}',
            webhook_url: null,
            metadata: null,
            estimated_nano: 600_000_000,
            held_nano: 600_000_000,
            attempts: 0,
            run_after: 0,
            deadline_at: 0,
            lease_owner: null,
            lease_until: null,
            created_at: 0,
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
        const restarted = new Ledger({ db: store.db, shared, staleHoldMs: 1 });
        await sleep(5);
        assert.deepEqual(await restarted.start({ recover: true }), { settled: 0, released: 0 });
        await restarted.close();
        // Another process settles it in its own transaction (with the account in its memory: ADR 0043).
        await b.use('acme');
        let apply: (() => void) | undefined;
        await store.db.transaction().execute(async (trx) => {
          const closed = await b.closeDurableHold(trx, {
            tenantId: 'acme',
            holdId: 'exec_1',
            keyId: 'k1',
            heldNano: 600_000_000,
            costNano: 250_000_000,
          });
          assert.equal(closed.charged, 250_000_000);
          apply = closed.apply;
        });
        apply!();
        assert.equal(b.account('acme')!.balanceNano, 750_000_000);
        await sleep(200);
        assert.equal(a.openHolds, 0, 'the opening process forgot it when it saw the settlement');
        assert.deepEqual(
          { ...a.account('acme'), monthSpendNano: 0 },
          {
            tenantId: 'acme',
            planId: null,
            balanceNano: 750_000_000,
            heldNano: 0,
            availableNano: 750_000_000,
            monthSpendNano: 0,
          },
        );
        await a.flush();
        const verified = await verifyLedger(store.db);
        assert.deepEqual(verified.problems, []);
        assert.equal(verified.openHolds, 0);
      } finally {
        await a.close();
        await b.close();
      }
    });
  }
});
