import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { Ledger } from '../../src/billing/ledger.ts';
import { verifyLedger } from '../../src/billing/verify.ts';
import { mockProvider, type TestGateway } from '../helpers/gateway.ts';
import { type MockOpenAI, startMockOpenAI } from '../mocks/openai-compatible.ts';
import { type AdminClient, adminClient, chat, createKey, startTenancyGateway } from '../tenancy/helpers.ts';

/**
 * A gateway's ledger holds the accounts in use, not all of them (ADR 0043): an account opened and credited by
 * another process (here a second ledger on the same database, as the CLI does) is not in the gateway's memory
 * until its first request, which loads it, is held and charged exactly, and shows in `modro_ledger_accounts`.
 * A tenant whose requests ran unbilled is billed once another process opens its account.
 */

const NANO_PER_TOKEN = 1_000_000;
const MODELS = [
  { name: 'gpt-4o-mini', qualityRank: 70, tiers: ['fast' as const], price: { input: 1000, output: 1000 } },
];
const ASK = { model: 'fast', max_tokens: 20, messages: [{ role: 'user', content: 'hello there' }] };

const execFileAsync = promisify(execFile);

/** `ALTER TABLE from RENAME TO to` by another process, waiting (busy timeout) for the gateway's write lock. */
async function renameTable(dbPath: string, from: string, to: string): Promise<void> {
  const script = `const { DatabaseSync } = require('node:sqlite');
const db = new DatabaseSync(process.argv[1], { timeout: 10000 });
db.exec('ALTER TABLE ${from} RENAME TO ${to}');
db.close();`;
  await execFileAsync(process.execPath, ['-e', script, dbPath]);
}

describe('ledger accounts on first use through the gateway [sqlite]', () => {
  let mock: MockOpenAI;
  let gw: TestGateway;
  let admin: AdminClient;
  let cli: Ledger;

  before(async () => {
    mock = await startMockOpenAI();
    gw = await startTenancyGateway({
      demo: { enabled: false },
      providers: [mockProvider('up', mock.url, MODELS)],
      billing: { flushIntervalMs: 20, pollMs: 20 },
    });
    admin = await adminClient(gw);
    cli = new Ledger({ db: gw.runtime.store.db });
    await cli.start({ recover: false });
  });
  after(async () => {
    await cli?.close();
    await gw?.close();
    await mock?.close();
  });

  const metric = async (kind: string): Promise<number> => {
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`modro_ledger_accounts{kind="${kind}"}`));
    assert.ok(line, `modro_ledger_accounts{kind="${kind}"} is exported`);
    return Number(line.split(' ').at(-1));
  };

  test('the first request of a cold account loads it, holds and charges it exactly', async () => {
    await admin.json('POST', '/admin/api/tenants', { id: 'coldone' });
    const { key } = await createKey(admin, 'coldone');
    await cli.manual({ tenantId: 'coldone', kind: 'credit', amountNano: 5_000_000_000, admin: 'cli', reason: 't' });
    const ledger = gw.runtime.ledger;
    assert.equal(ledger.billed('coldone'), false, 'not in the gateway’s memory');
    const before = ledger.cacheStats;
    const loadsBefore = before.loads;
    assert.equal(await metric('accounts'), before.accounts);

    const res = await chat(gw, key, ASK);
    const body = (await res.json()) as { usage: { prompt_tokens: number; completion_tokens: number } };
    assert.equal(res.status, 200, JSON.stringify(body));
    const cost = (body.usage.prompt_tokens + body.usage.completion_tokens) * NANO_PER_TOKEN;
    assert.ok(cost > 0);
    assert.equal(ledger.cacheStats.loads, loadsBefore + 1, 'one cold load');
    assert.equal(ledger.cacheStats.accounts, before.accounts + 1);
    assert.equal(await metric('accounts'), before.accounts + 1);

    await ledger.flush();
    const view = ledger.account('coldone')!;
    assert.equal(view.balanceNano, 5_000_000_000 - cost);
    assert.equal(view.heldNano, 0);
    assert.equal(view.monthSpendNano, cost);
    const fresh = new Ledger({ db: gw.runtime.store.db });
    await fresh.start({ recover: false });
    const fromDisk = await fresh.view('coldone');
    await fresh.close();
    assert.equal(fromDisk?.balanceNano, view.balanceNano, 'memory equals the ledger');
    assert.deepEqual((await verifyLedger(gw.runtime.store.db)).problems, []);

    // Warm: the next request loads nothing.
    assert.equal((await chat(gw, key, ASK)).status, 200);
    assert.equal(ledger.cacheStats.loads, loadsBefore + 1);
  });

  test('a cold account whose load the database fails is a retryable 503, not a 500; the next request loads it', async () => {
    await admin.json('POST', '/admin/api/tenants', { id: 'unreadable' });
    const { key } = await createKey(admin, 'unreadable');
    await cli.manual({ tenantId: 'unreadable', kind: 'credit', amountNano: 5_000_000_000, admin: 'cli', reason: 't' });
    const ledger = gw.runtime.ledger;
    // Warm the key and its tenant, then let the account leave memory as an idle one does.
    assert.equal((await chat(gw, key, ASK)).status, 200);
    await ledger.flush();
    ledger.evictIdle(Date.now() + 24 * 3_600_000);
    assert.equal(ledger.account('unreadable'), undefined, 'the account left memory');
    const balance = (await ledger.view('unreadable'))!.balanceNano;
    ledger.evictIdle(Date.now() + 24 * 3_600_000);

    // Another process takes the account table away: the gateway's load of it fails. Not a connection of this
    // process: a synchronous statement here would block the event loop while the gateway's own batch
    // transactions (which await between statements) hold SQLite's write lock, and wait for them in vain.
    const db = join(gw.dataDir, 'modro.db');
    await renameTable(db, 'account', 'account_away');
    let restored = false;
    try {
      const logsBefore = gw.logs.length;
      const upstreamBefore = mock.requests.length;
      const res = await chat(gw, key, ASK);
      const text = await res.text();
      assert.equal(res.status, 503, text);
      assert.equal(res.headers.get('retry-after'), '1');
      const body = JSON.parse(text) as { error: { code: string; message: string; retryable?: boolean } };
      assert.equal(body.error.code, 'provider_unavailable');
      assert.match(body.error.message, /could not read this account's balance/);
      assert.doesNotMatch(text, /account_away|no such table|at .*\.(ts|js):\d+/, 'no database detail or stack');
      assert.ok(
        gw.logs.slice(logsBefore).some((l) => l.includes('a billed account could not be loaded')),
        'the failure is logged',
      );
      assert.equal(ledger.account('unreadable'), undefined, 'a failed load is not remembered');
      assert.equal(mock.requests.length, upstreamBefore, 'refused before any upstream byte');

      await renameTable(db, 'account_away', 'account');
      restored = true;
      const ok = await chat(gw, key, ASK);
      const okBody = (await ok.json()) as { usage: { prompt_tokens: number; completion_tokens: number } };
      assert.equal(ok.status, 200, JSON.stringify(okBody));
      await ledger.flush();
      const cost = (okBody.usage.prompt_tokens + okBody.usage.completion_tokens) * NANO_PER_TOKEN;
      assert.equal(ledger.account('unreadable')?.balanceNano, balance - cost, 'loaded and charged once');
      assert.deepEqual((await verifyLedger(gw.runtime.store.db)).problems, []);
    } finally {
      if (!restored) await renameTable(db, 'account_away', 'account');
    }
  });

  test('a tenant served unbilled is billed from its first request after another process opens its account', async () => {
    await admin.json('POST', '/admin/api/tenants', { id: 'latecomer' });
    const { key } = await createKey(admin, 'latecomer');
    assert.equal((await chat(gw, key, ASK)).status, 200, 'no account: not billed');
    const ledger = gw.runtime.ledger;
    assert.equal(ledger.billed('latecomer'), false);
    assert.ok((await metric('unbilled')) >= 1);
    await cli.openAccount('latecomer'); // balance zero
    for (let i = 0; i < 100 && (await chat(gw, key, ASK)).status === 200; i++) await sleep(10);
    const refused = await chat(gw, key, ASK);
    assert.equal(refused.status, 402, 'billed now, with nothing to spend');
    assert.equal(ledger.billed('latecomer'), true);
    assert.deepEqual((await verifyLedger(gw.runtime.store.db)).problems, []);
  });
});
