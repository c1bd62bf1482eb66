import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { Ledger } from '../../src/billing/ledger.ts';
import { verifyLedger } from '../../src/billing/verify.ts';
import { runLedgerCommand } from '../../src/cli/ledger-commands.ts';
import { runTenancyCommand } from '../../src/cli/tenancy-commands.ts';
import type { Store, StoreConfig } from '../../src/store/db.ts';
import { writeUsageBatch } from '../../src/store/usage.ts';
import { type DatabaseSuite, forEachDatabase } from '../helpers/databases.ts';
import { chargedRecord } from '../store/support.ts';

/**
 * The ledger against the database (SQLite and PostgreSQL): the CLI's manual entries and checks, holds written
 * through the batched path, `ledger verify` catching a tampered balance or a hold closed twice, and the holds
 * of a killed gateway closed at the next start (settled at the cost its usage record shows, else released).
 */

interface Captured {
  code: number;
  out: string;
  err: string;
}

function configFile(suite: DatabaseSuite, storage: StoreConfig): string {
  const path = join(suite.tempDir(), `modro-${Math.random().toString(36).slice(2)}.yaml`);
  const yamlStorage =
    storage.kind === 'sqlite'
      ? { kind: 'sqlite', path: storage.path }
      : { kind: 'postgres', url: storage.url, schema: storage.schema };
  writeFileSync(path, JSON.stringify({ storage: yamlStorage }));
  return path;
}

async function cli(run: typeof runLedgerCommand, config: string, ...argv: string[]): Promise<Captured> {
  let out = '';
  let err = '';
  const code = await run(
    [...argv, '--config', config],
    {},
    {
      write: (t) => {
        out += t;
      },
    },
    {
      write: (t) => {
        err += t;
      },
    },
  );
  return { code, out, err };
}

forEachDatabase('ledger', (suite) => {
  let storage: StoreConfig;
  let config: string;
  let store: Store;

  const entries = async (tenant: string) =>
    (await store.db.selectFrom('ledger_entry').selectAll().where('tenant_id', '=', tenant).orderBy('id').execute()).map(
      (e) => ({ kind: e.kind, amount: Number(e.amount_nano), held: Number(e.held_nano), hold: e.hold_id }),
    );

  it('CLI: a deposit with its 4% fee, a debit, verify; bad amounts change nothing', async () => {
    const db = await suite.fresh();
    storage = db.config;
    store = db.store;
    config = configFile(suite, storage);
    assert.equal((await cli(runTenancyCommand, config, 'tenants', 'create', 'acme')).code, 0);
    const deposit = await cli(runLedgerCommand, config, 'ledger', 'deposit', 'acme', '--usd', '25', '--reason', 'wire');
    assert.equal(deposit.code, 0, deposit.err);
    assert.match(deposit.out, /balance \$24\.000000000/);
    for (const usd of ['-1', '0', 'abc', '1e3', '10000000', '0.0000000001']) {
      const bad = await cli(runLedgerCommand, config, 'ledger', 'credit', 'acme', '--usd', usd, '--reason', 'x');
      assert.notEqual(bad.code, 0, `--usd ${usd} was accepted`);
      assert.match(bad.err, /usd|amount/i);
      assert.ok(!bad.err.includes('    at '), 'no stack trace');
    }
    const noReason = await cli(runLedgerCommand, config, 'ledger', 'credit', 'acme', '--usd', '1');
    assert.equal(noReason.code, 1);
    assert.match(noReason.err, /reason/);
    const overdraw = await cli(
      runLedgerCommand,
      config,
      'ledger',
      'debit',
      'acme',
      '--usd',
      '24.000000001',
      '--reason',
      'x',
    );
    assert.equal(overdraw.code, 1);
    assert.match(overdraw.err, /more than the \$24\.000000000 available/);
    const unknown = await cli(runLedgerCommand, config, 'ledger', 'credit', 'nobody', '--usd', '1', '--reason', 'x');
    assert.equal(unknown.code, 1);
    assert.deepEqual(await entries('acme'), [
      { kind: 'deposit', amount: 25_000_000_000, held: 0, hold: null },
      { kind: 'deposit_fee', amount: -1_000_000_000, held: 0, hold: null },
    ]);
    assert.equal(
      (await cli(runLedgerCommand, config, 'ledger', 'debit', 'acme', '--usd', '4', '--reason', 'fix')).code,
      0,
    );
    const balance = await cli(runLedgerCommand, config, 'ledger', 'balance', 'acme', '--json');
    assert.equal(JSON.parse(balance.out).balanceNano, 20_000_000_000);
    const verify = await cli(runLedgerCommand, config, 'ledger', 'verify');
    assert.equal(verify.code, 0, verify.out);
    assert.match(verify.out, /^ok: 1 accounts, 3 entries, 0 holds in flight/);
  });

  it('CLI plans: set, list, assign; bad caps and unknown plans refused', async () => {
    const set = await cli(
      runLedgerCommand,
      config,
      'plans',
      'set',
      'pro',
      '--name',
      'Pro',
      '--cap-usd',
      '50',
      '--models',
      'up/a,up/b',
    );
    assert.equal(set.code, 0, set.err);
    const listed = await cli(runLedgerCommand, config, 'plans', 'list', '--json');
    assert.deepEqual(JSON.parse(listed.out), [
      { id: 'pro', name: 'Pro', monthlyCapNano: 50_000_000_000, models: ['up/a', 'up/b'], public: false },
    ]);
    assert.equal((await cli(runLedgerCommand, config, 'plans', 'set', 'pro', '--public', 'yes')).code, 0);
    const publicPlan = JSON.parse((await cli(runLedgerCommand, config, 'plans', 'list', '--json')).out);
    assert.equal(publicPlan[0].public, true, 'made public, the rest kept');
    assert.equal(publicPlan[0].monthlyCapNano, 50_000_000_000);
    assert.notEqual((await cli(runLedgerCommand, config, 'plans', 'set', 'pro', '--public', 'maybe')).code, 0);
    assert.equal((await cli(runLedgerCommand, config, 'plans', 'set', 'pro', '--cap-usd', '')).code, 0);
    const uncapped = JSON.parse((await cli(runLedgerCommand, config, 'plans', 'list', '--json')).out);
    assert.equal(uncapped[0].monthlyCapNano, null, 'cap removed, name and models kept');
    assert.deepEqual(uncapped[0].models, ['up/a', 'up/b']);
    for (const argv of [
      ['plans', 'set', 'cheap', '--cap-usd', '-5'],
      ['plans', 'set', 'Bad Id', '--cap-usd', '5'],
      ['plans', 'assign', 'acme', 'nope'],
    ]) {
      const bad = await cli(runLedgerCommand, config, ...argv);
      assert.notEqual(bad.code, 0, argv.join(' '));
      assert.ok(bad.err.length > 0 && !bad.err.includes('    at '), bad.err);
    }
    assert.equal((await cli(runLedgerCommand, config, 'plans', 'assign', 'acme', 'pro')).code, 0);
    assert.equal(
      JSON.parse((await cli(runLedgerCommand, config, 'ledger', 'balance', 'acme', '--json')).out).planId,
      'pro',
    );
    assert.equal((await cli(runLedgerCommand, config, 'plans', 'assign', 'acme', 'none')).code, 0);
    assert.equal(
      JSON.parse((await cli(runLedgerCommand, config, 'ledger', 'balance', 'acme', '--json')).out).planId,
      null,
    );
  });

  it('a bring-your-own-key tenant is never billed: its account cannot be opened, no entry is written', async () => {
    const now = Date.now();
    await store.db
      .insertInto('tenant')
      .values({
        id: 'byok_0123456789abcdef',
        name: 'byok',
        preset: null,
        utility_model: null,
        fast_model: null,
        deep_model: null,
        allowed_models: null,
        byok_provider: 'openai',
        key_hmac: 'ab'.repeat(32),
        links_valid_after: 0,
        created_at: now,
        updated_at: now,
      })
      .execute();
    for (const argv of [
      ['ledger', 'open', 'byok_0123456789abcdef'],
      ['ledger', 'credit', 'byok_0123456789abcdef', '--usd', '5', '--reason', 'x'],
    ]) {
      const refused = await cli(runLedgerCommand, config, ...argv);
      assert.equal(refused.code, 1);
      assert.match(refused.err, /Bring-your-own-key tenants pay their provider and are never billed/);
    }
    const rows = await store.db
      .selectFrom('account')
      .select('tenant_id')
      .where('tenant_id', '=', 'byok_0123456789abcdef')
      .execute();
    assert.deepEqual(rows, []);
    assert.deepEqual(await entries('byok_0123456789abcdef'), []);
  });

  it('holds: exact under a burst, settled at most what was held, written in batches, verified', async () => {
    const ledger = new Ledger({ db: store.db, flushIntervalMs: 10 });
    await ledger.start({ recover: false });
    await ledger.use('acme');
    // $20 available: 1000 holds of $0.03 at once, exactly 666 fit.
    const results = Array.from({ length: 1000 }, (_, i) =>
      ledger.hold({ tenantId: 'acme', keyId: null, requestId: `req_burst_${i}`, amountNano: 30_000_000 }),
    );
    const held = results.filter((r) => r.ok);
    assert.equal(held.length, 666);
    const refusal = results.find((r) => !r.ok);
    assert.ok(refusal && !refusal.ok);
    assert.equal(refusal.error.code, 'quota_exceeded');
    assert.match(refusal.error.message, /needs a hold of \$0\.030000000 and \$0\.020000000 is available/);
    let charged = 0;
    held.forEach((r, i) => {
      if (!r.ok) return;
      if (i % 3 === 0) r.hold.release();
      else charged += r.hold.settle(i % 3 === 1 ? 12_345_678 : 99_000_000); // the last: more than held
    });
    assert.equal(charged, 222 * 12_345_678 + 222 * 30_000_000);
    await ledger.close();
    const account = (await ledger.view('acme'))!;
    assert.equal(account.balanceNano, 20_000_000_000 - charged);
    assert.equal(account.heldNano, 0);
    const verified = await verifyLedger(store.db);
    assert.deepEqual(verified.problems, []);
    assert.equal(verified.openHolds, 0);
    const reloaded = new Ledger({ db: store.db });
    await reloaded.start({ recover: false });
    assert.deepEqual(await reloaded.view('acme'), account, 'balances summed from the ledger match memory');
    await reloaded.close();
  });

  it("a killed gateway's open holds are closed at the next start: settled at the recorded cost, else released", async () => {
    const killed = new Ledger({ db: store.db, flushIntervalMs: 10 });
    await killed.start({ recover: false });
    const before = (await killed.view('acme'))!.balanceNano;
    const a = killed.hold({ tenantId: 'acme', keyId: null, requestId: 'req_killed_a', amountNano: 50_000_000 });
    const b = killed.hold({ tenantId: 'acme', keyId: null, requestId: 'req_killed_b', amountNano: 50_000_000 });
    assert.ok(a.ok && b.ok);
    await killed.flush(); // the holds reached the database; the process dies before their requests end
    const inFlight = await verifyLedger(store.db);
    assert.equal(inFlight.ok, true);
    assert.equal(inFlight.openHolds, 2);
    // The usage journal kept request a's record (served, $0.0123); b never got one. Request c was served and
    // recorded too, but its hold and settlement were still queued when the process died.
    await writeUsageBatch(store.db, [
      chargedRecord('req_killed_a', 'acme', 12_300_000),
      chargedRecord('req_lost_c', 'acme', 7_000_000),
    ]);
    const restarted = new Ledger({ db: store.db });
    const closed = await restarted.start({ recover: true });
    assert.deepEqual(closed, { settled: 2, released: 1 });
    assert.equal((await restarted.view('acme'))!.balanceNano, before - 12_300_000 - 7_000_000);
    const c = (await entries('acme')).filter((e) => e.hold === 'req_lost_c');
    assert.deepEqual(c, [
      { kind: 'hold', amount: 0, held: 7_000_000, hold: 'req_lost_c' },
      { kind: 'settle', amount: -7_000_000, held: -7_000_000, hold: 'req_lost_c' },
    ]);
    const again = new Ledger({ db: store.db });
    assert.deepEqual(await again.start({ recover: true }), { settled: 0, released: 0 }, 'charged once');
    await again.close();
    assert.equal((await restarted.view('acme'))!.heldNano, 0);
    await restarted.close();
    const verified = await verifyLedger(store.db);
    assert.deepEqual(verified.problems, []);
    assert.equal(verified.openHolds, 0);
  });

  it('verify fails (exit 1) on a tampered balance, a hold closed twice or a close without a hold', async () => {
    assert.equal((await cli(runLedgerCommand, config, 'ledger', 'verify')).code, 0);
    await store.db.updateTable('account').set({ balance_nano: 1 }).where('tenant_id', '=', 'acme').execute();
    const tampered = await cli(runLedgerCommand, config, 'ledger', 'verify');
    assert.equal(tampered.code, 1);
    assert.match(tampered.out, /FAILED/);
    assert.match(tampered.out, /account 'acme': entries sum to \$[\d.]+, cached balance is \$0\.000000001/);
    const base = {
      tenant_id: 'acme',
      at: Date.now(),
      amount_nano: 0,
      key_id: null,
      request_id: null,
      payment_id: null,
      admin: null,
      reason: null,
      node: 'test',
    };
    await store.db
      .insertInto('ledger_entry')
      .values([
        { ...base, kind: 'release', held_nano: -50_000_000, hold_id: 'req_never_held' },
        { ...base, kind: 'settle', held_nano: -50_000_000, hold_id: 'req_killed_b' },
      ])
      .execute();
    const verified = await verifyLedger(store.db);
    assert.equal(verified.ok, false);
    assert.ok(
      verified.problems.some((p) => p.includes('a hold that was never opened')),
      verified.problems.join('\n'),
    );
    assert.ok(
      verified.problems.some((p) => p.includes("hold 'req_killed_b' is closed 2 times")),
      verified.problems.join('\n'),
    );
  });
});
