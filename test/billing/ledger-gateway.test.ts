import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { verifyLedger } from '../../src/billing/verify.ts';
import type { ChatRequest } from '../../src/core/ir.ts';
import { promptTokenUpperBound } from '../../src/tokens/tokens.ts';
import { isCI } from '../helpers/ci.ts';
import { POSTGRES_TEST_URL } from '../helpers/databases.ts';
import { mockProvider, type TestGateway } from '../helpers/gateway.ts';
import { type MockOpenAI, startMockOpenAI } from '../mocks/openai-compatible.ts';
import { type AdminClient, adminClient, chat, createKey, startTenancyGateway } from '../tenancy/helpers.ts';

/**
 * Money end to end on one node (docs/billing.md): a real gateway on loopback, a mock OpenAI upstream, accounts
 * credited through the admin JSON API, calls through HTTP. One price for every token: $1000 per million,
 * so a token costs 1,000,000 nano-dollars and the amounts below are exact integers.
 */

const NANO_PER_TOKEN = 1_000_000;
const MODELS = [
  { name: 'gpt-4o-mini', qualityRank: 70, tiers: ['fast' as const], price: { input: 1000, output: 1000 } },
  { name: 'gpt-4o', qualityRank: 90, tiers: ['deep' as const], price: { input: 1000, output: 1000 } },
  { name: 'text-embedding-3-small', qualityRank: 50, mode: 'embedding' as const, price: { input: 1000, output: 0 } },
];
const MAX_TOKENS = 20;
const ASK = { model: 'fast', max_tokens: MAX_TOKENS, messages: [{ role: 'user', content: 'hello there' }] };

/** The hold the gateway must place for ASK: the prompt counted high (a token a byte) plus max_tokens. */
function expectedHold(body: typeof ASK): number {
  const text = body.messages[0]!.content;
  const ir = { model: body.model, messages: [{ role: 'user', content: [{ type: 'text', text }] }] };
  const input = promptTokenUpperBound(ir as unknown as ChatRequest);
  assert.ok(input > Buffer.byteLength(text));
  return (input + body.max_tokens) * NANO_PER_TOKEN;
}

interface Entry {
  kind: string;
  amount_nano: number;
  held_nano: number;
  hold_id: string | null;
  request_id: string | null;
  admin: string | null;
  reason: string | null;
}
interface Account {
  balanceNano: number;
  heldNano: number;
  availableNano: number;
  monthSpendNano: number;
  entries: Entry[];
}

async function postgresProblem(): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: POSTGRES_TEST_URL, connectionTimeoutMillis: 2_000 });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.end();
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

async function errorOf(res: Response): Promise<{ status: number; code: string; message: string }> {
  const body = (await res.json()) as { error: { code: string; message: string } };
  return { status: res.status, code: body.error.code, message: body.error.message };
}

const pgProblem = await postgresProblem();

for (const kind of ['sqlite', 'postgres'] as const) {
  describe(`ledger: holds, settlements and limits through the gateway [${kind}]`, {
    skip: kind === 'postgres' && pgProblem !== undefined && !isCI() ? `PostgreSQL unreachable (${pgProblem})` : false,
  }, () => {
    const schema = `t_ledger_gateway_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
    let mock: MockOpenAI;
    let gw: TestGateway;
    let admin: AdminClient;
    let tenantSeq = 0;

    /** A billed tenant with one key and a deposit (after the 4% fee) of `usd`. */
    async function billedTenant(
      credit: { kind: 'credit' | 'deposit'; usd: string } | undefined,
      keyFields: Record<string, unknown> = {},
    ): Promise<{ id: string; key: string; keyId: string }> {
      const id = `t${++tenantSeq}`;
      await admin.json('POST', '/admin/api/tenants', { id });
      await admin.json('POST', `/admin/api/tenants/${id}/account`);
      if (credit) {
        await admin.json('POST', `/admin/api/tenants/${id}/ledger`, {
          kind: credit.kind,
          amountUsd: credit.usd,
          reason: 'test money',
        });
      }
      const key = await createKey(admin, id, keyFields);
      return { id, key: key.key, keyId: key.id };
    }

    const account = (id: string) => admin.json<Account>('GET', `/admin/api/tenants/${id}/account`);

    before(async () => {
      mock = await startMockOpenAI();
      gw = await startTenancyGateway({
        demo: { enabled: false },
        providers: [mockProvider('up', mock.url, MODELS)],
        billing: { flushIntervalMs: 20 },
        ...(kind === 'postgres' ? { storage: { kind: 'postgres', url: POSTGRES_TEST_URL, schema } } : {}),
      });
      admin = await adminClient(gw);
    });
    after(async () => {
      await gw?.close();
      await mock?.close();
      if (kind === 'postgres') {
        const client = new pg.Client({ connectionString: POSTGRES_TEST_URL });
        await client.connect();
        await client.query(`drop schema if exists "${schema}" cascade`);
        await client.end();
      }
    });

    test('a deposit takes the 4% fee from the credit, as its own entry naming the admin and the reason', async () => {
      const { id } = await billedTenant({ kind: 'deposit', usd: '10' });
      const acct = await account(id);
      assert.equal(acct.balanceNano, 9_600_000_000);
      const kinds = acct.entries.map((e) => [e.kind, e.amount_nano, e.admin, e.reason]);
      assert.deepEqual(kinds.reverse(), [
        ['deposit', 10_000_000_000, 'root', 'test money'],
        ['deposit_fee', -400_000_000, 'root', 'test money'],
      ]);
    });

    test('a request holds the most it can cost, then settles at its exact cost', async () => {
      const { id, key } = await billedTenant({ kind: 'credit', usd: '5' });
      const res = await chat(gw, key, ASK);
      const body = (await res.json()) as { usage: { prompt_tokens: number; completion_tokens: number } };
      assert.equal(res.status, 200);
      const cost = (body.usage.prompt_tokens + body.usage.completion_tokens) * NANO_PER_TOKEN;
      const requestId = res.headers.get('x-model-router-request-id');
      await gw.runtime.ledger.flush();
      const acct = await account(id);
      assert.equal(acct.balanceNano, 5_000_000_000 - cost);
      assert.equal(acct.heldNano, 0);
      assert.equal(acct.monthSpendNano, cost);
      const hold = acct.entries.find((e) => e.kind === 'hold');
      const settle = acct.entries.find((e) => e.kind === 'settle');
      assert.equal(hold?.held_nano, expectedHold(ASK));
      assert.equal(hold?.amount_nano, 0);
      assert.equal(settle?.amount_nano, -cost);
      assert.equal(settle?.held_nano, -expectedHold(ASK));
      assert.equal(settle?.hold_id, hold?.hold_id);
      if (requestId) assert.equal(hold?.request_id, requestId);
    });

    test('an embeddings request holds its input counted high and settles at its cost', async () => {
      const { id, key } = await billedTenant({ kind: 'credit', usd: '5' });
      const input = 'hello embeddings world';
      const res = await fetch(`${gw.url}/v1/embeddings`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'text-embedding-3-small', input }),
      });
      const body = (await res.json()) as { usage: { prompt_tokens: number } };
      assert.equal(res.status, 200, JSON.stringify(body));
      const cost = body.usage.prompt_tokens * NANO_PER_TOKEN;
      await gw.runtime.ledger.flush();
      const acct = await account(id);
      assert.equal(acct.heldNano, 0);
      assert.equal(acct.balanceNano, 5_000_000_000 - cost);
      assert.equal(acct.entries.find((e) => e.kind === 'hold')?.held_nano, Buffer.byteLength(input) * NANO_PER_TOKEN);
      assert.equal(acct.entries.find((e) => e.kind === 'settle')?.amount_nano, -cost);
    });

    test('a request that fails releases its hold: nothing charged', async () => {
      const { id, key } = await billedTenant({ kind: 'credit', usd: '5' });
      mock.faults.sticky = { kind: 'status', status: 500 };
      try {
        const res = await chat(gw, key, ASK);
        await res.text();
        assert.ok(res.status >= 500, `status ${res.status}`);
      } finally {
        mock.faults.clear();
      }
      await gw.runtime.ledger.flush();
      const acct = await account(id);
      assert.equal(acct.balanceNano, 5_000_000_000);
      assert.equal(acct.heldNano, 0);
      const closes = acct.entries.filter((e) => e.kind === 'release');
      assert.equal(closes.length, 1);
      assert.equal(closes[0]!.amount_nano, 0);
      assert.equal(closes[0]!.held_nano, -expectedHold(ASK));
    });

    test('a stream cut by the upstream settles at what was delivered, less than a whole answer', async () => {
      const { id, key } = await billedTenant({ kind: 'credit', usd: '5' });
      mock.faults.push({ kind: 'reset-mid-stream', afterEvents: 3 });
      const res = await chat(gw, key, { ...ASK, stream: true, messages: [{ role: 'user', content: 'a long answer' }] });
      await res.text();
      assert.equal(res.status, 200);
      const requestId = res.headers.get('x-request-id')!;
      await gw.runtime.usage.flush();
      await gw.runtime.ledger.flush();
      const record = await gw.runtime.store.db
        .selectFrom('usage_record')
        .select(['cost_nano_usd', 'error_code_id'])
        .where('request_id', '=', requestId)
        .executeTakeFirstOrThrow();
      assert.ok(record.error_code_id !== null, 'recorded as cut');
      const acct = await account(id);
      const settle = acct.entries.find((e) => e.kind === 'settle' && e.hold_id === requestId);
      assert.ok(settle, JSON.stringify(acct.entries));
      assert.ok(record.cost_nano_usd > 0);
      assert.equal(settle.amount_nano, -record.cost_nano_usd, 'charged what the meter counted as delivered');
      assert.ok(-settle.amount_nano < -settle.held_nano, 'less than the hold');
      assert.equal(acct.balanceNano, 5_000_000_000 - record.cost_nano_usd);
    });

    test('a balance too small for the hold: 402 quota_exceeded naming the balance and the amount needed', async () => {
      const { id, key } = await billedTenant({ kind: 'credit', usd: '0.01' });
      const before = mock.requests.length;
      const err = await errorOf(await chat(gw, key, ASK));
      assert.equal(err.status, 402);
      assert.equal(err.code, 'quota_exceeded');
      const need = (expectedHold(ASK) / 1e9).toFixed(9);
      assert.match(err.message, /^Insufficient balance/);
      assert.ok(err.message.includes(`needs a hold of $${need}`), err.message);
      assert.ok(err.message.includes('$0.010000000 is available'), err.message);
      assert.equal(mock.requests.length, before, 'no upstream call');
      assert.equal((await account(id)).balanceNano, 10_000_000);
    });

    test("the plan's monthly cap stops a request the balance would allow, with its own message", async () => {
      const { id, key } = await billedTenant({ kind: 'credit', usd: '100' });
      await admin.json('PUT', '/admin/api/plans/tiny', { name: 'Tiny', monthlyCapUsd: '0.02' });
      await admin.json('PUT', `/admin/api/tenants/${id}/plan`, { planId: 'tiny' });
      const err = await errorOf(await chat(gw, key, ASK));
      assert.equal(err.status, 402);
      assert.equal(err.code, 'quota_exceeded');
      assert.match(err.message, /^Monthly spending cap of plan 'tiny' reached/);
      assert.ok(err.message.includes('$0.020000000 of the $0.020000000 cap is left'), err.message);
    });

    test("the key's quota stops a request when it is what runs out first", async () => {
      const { key } = await billedTenant({ kind: 'credit', usd: '100' }, { limits: { quota: { usd: 0.02 } } });
      const err = await errorOf(await chat(gw, key, ASK));
      assert.equal(err.status, 402);
      assert.equal(err.code, 'quota_exceeded');
      assert.match(err.message, /^This key's quota is used up/);
      assert.ok(err.message.includes("$0.020000000 of the key's $0.020000000 quota is left"), err.message);
    });

    test("a plan's models: another model, named or by its tier, is refused with 403; its own are served", async () => {
      const { id, key } = await billedTenant({ kind: 'credit', usd: '100' });
      await admin.json('PUT', '/admin/api/plans/mini-only', { name: 'Mini', models: ['up/gpt-4o-mini'] });
      await admin.json('PUT', `/admin/api/tenants/${id}/plan`, { planId: 'mini-only' });
      const refused = await errorOf(await chat(gw, key, { ...ASK, model: 'gpt-4o' }));
      assert.equal(refused.status, 403);
      assert.match(refused.message, /plan 'mini-only' does not include the model 'gpt-4o'/);
      const deep = await errorOf(await chat(gw, key, { ...ASK, model: 'deep' }));
      assert.equal(deep.status, 403, deep.message);
      const listed = await fetch(`${gw.url}/v1/models`, { headers: { authorization: `Bearer ${key}` } });
      const ids = ((await listed.json()) as { data: Array<{ id: string }> }).data.map((m) => m.id);
      assert.deepEqual(
        ids.filter((id) => id.includes('/')),
        ['up/gpt-4o-mini'],
        "the model list shows the plan's models only",
      );
      const fast = await chat(gw, key, ASK);
      await fast.text();
      assert.equal(fast.status, 200);
      assert.equal(fast.headers.get('x-model-router-model'), 'up/gpt-4o-mini');
    });

    test('bad amounts and reasons are refused with a clear error and no ledger change', async () => {
      const { id } = await billedTenant({ kind: 'credit', usd: '1' });
      const before = (await account(id)).entries.length;
      const bad: Array<Record<string, unknown>> = [
        { kind: 'credit', amountUsd: '-5', reason: 'x' },
        { kind: 'credit', amountUsd: '0', reason: 'x' },
        { kind: 'credit', amountUsd: 'abc', reason: 'x' },
        { kind: 'credit', amountUsd: '1.0000000001', reason: 'x' },
        { kind: 'credit', amountUsd: '99999999', reason: 'x' },
        { kind: 'credit', amountNano: 1.5, reason: 'x' },
        { kind: 'credit', amountNano: -1, reason: 'x' },
        { kind: 'credit', amountUsd: '1', reason: '   ' },
        { kind: 'credit', amountUsd: '1' },
        { kind: 'gift', amountUsd: '1', reason: 'x' },
        { kind: 'debit', amountUsd: '2', reason: 'more than the balance' },
      ];
      for (const body of bad) {
        const res = await admin.request('POST', `/admin/api/tenants/${id}/ledger`, body);
        const err = await errorOf(res);
        assert.equal(res.status, 400, JSON.stringify(body));
        assert.equal(err.code, 'invalid_request');
        assert.ok(err.message.length > 10 && !err.message.includes(' at '), err.message);
      }
      const after = await account(id);
      assert.equal(after.entries.length, before);
      assert.equal(after.balanceNano, 1_000_000_000);
      const debit = await admin.json<{ account: { balanceNano: number } }>('POST', `/admin/api/tenants/${id}/ledger`, {
        kind: 'debit',
        amountUsd: '0.25',
        reason: 'correction',
      });
      assert.equal(debit.account.balanceNano, 750_000_000);
    });

    test('200 concurrent requests against a balance that covers 10: at most 10 served, never below zero, verify passes', async (t) => {
      // What one ASK costs (the mock answers it the same way every time).
      const probe = await billedTenant({ kind: 'credit', usd: '5' });
      const probeRes = await chat(gw, probe.key, ASK);
      const cost = ((await probeRes.json()) as { usage: { total_tokens: number } }).usage.total_tokens * NANO_PER_TOKEN;
      const hold = expectedHold(ASK);
      assert.ok(cost > 0 && cost < hold);
      // Enough for ten requests at their real cost, not for eleven.
      const balance = 11 * cost - 1;
      assert.ok(balance >= hold);
      const { id, key } = await billedTenant({ kind: 'credit', usd: (balance / 1e9).toFixed(9) });
      const before = mock.requests.length;
      const results = await Promise.all(
        Array.from({ length: 200 }, async () => {
          const res = await chat(gw, key, ASK);
          const text = await res.text();
          return { status: res.status, text };
        }),
      );
      const served = results.filter((r) => r.status === 200);
      const refused = results.filter((r) => r.status === 402);
      assert.equal(served.length + refused.length, 200, `other statuses: ${results.map((r) => r.status).join(',')}`);
      t.diagnostic(
        `${served.length} served, ${refused.length} refused; hold ${hold}, cost ${cost}, balance ${balance} nano`,
      );
      assert.ok(served.length >= 1 && served.length <= 10, `served ${served.length}`);
      for (const r of refused) assert.match(r.text, /Insufficient balance: this request needs a hold of/);
      assert.equal(mock.requests.length - before, served.length, 'refused requests reached no upstream');
      await gw.runtime.ledger.flush();
      const acct = await account(id);
      assert.equal(acct.balanceNano, balance - served.length * cost, 'charged exactly what was served');
      assert.ok(acct.balanceNano >= 0);
      assert.equal(acct.heldNano, 0);
      assert.equal(acct.entries.filter((e) => e.kind === 'settle').length, served.length);
      assert.equal(acct.entries.filter((e) => e.kind === 'hold').length, served.length, 'refusals leave no entry');
      const verified = await verifyLedger(gw.runtime.store.db);
      assert.deepEqual(verified.problems, []);
      assert.equal(verified.ok, true);
      assert.equal(verified.openHolds, 0);
    });
  });
}
