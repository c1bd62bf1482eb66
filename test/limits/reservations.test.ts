import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import type { ChatRequest } from '../../src/core/ir.ts';
import { promptTokenEstimate, promptTokenUpperBound } from '../../src/tokens/tokens.ts';
import { POSTGRES_TEST_URL } from '../helpers/databases.ts';
import { mockProvider, type TestGateway } from '../helpers/gateway.ts';
import { dropPrefix, REDIS_TEST_URL, redisTest, testPrefix } from '../helpers/redis.ts';
import { type MockOpenAI, startMockOpenAI } from '../mocks/openai-compatible.ts';
import { type AdminClient, adminClient, chat, createKey, startTenancyGateway } from '../tenancy/helpers.ts';

/**
 * Requests in flight together cannot overshoot a key's quota or tpm on one node (docs/limits.md,
 * "Reservations"): the quota reserves the most each routed request can cost, tpm the prompt estimate plus
 * `max_tokens`, both corrected when the request ends. The mock upstream answers slowly so that all the
 * concurrent requests are admitted before any ends (without reservations every one of them would pass). Slowly
 * enough for a loaded machine: a request served and settled (at its real cost, below its reservation) before
 * the last ones are admitted would rightly make room for more, and the count of 5 would not hold.
 */
const UPSTREAM_DELAY_MS = 3_000;

const NANO_PER_TOKEN = 1_000_000; // $1000 per million tokens, in and out
const MODELS = [
  { name: 'gpt-4o-mini', qualityRank: 70, tiers: ['fast' as const], price: { input: 1000, output: 1000 } },
];
const ASK = { model: 'fast', max_tokens: 20, messages: [{ role: 'user', content: 'hello there' }] };
const IR = {
  model: 'fast',
  maxTokens: 20,
  messages: [{ role: 'user', content: [{ type: 'text', text: 'hello there' }] }],
} as unknown as ChatRequest;

describe('reservations: concurrent requests against a nearly spent quota or tpm', () => {
  let mock: MockOpenAI;
  let gw: TestGateway;
  let admin: AdminClient;
  let seq = 0;

  before(async () => {
    mock = await startMockOpenAI();
    gw = await startTenancyGateway({ demo: { enabled: false }, providers: [mockProvider('up', mock.url, MODELS)] });
    admin = await adminClient(gw);
  });
  after(async () => {
    await gw?.close();
    await mock?.close();
  });

  async function keyWith(limits: Record<string, unknown>): Promise<string> {
    const id = `res${++seq}`;
    await admin.json('POST', '/admin/api/tenants', { id });
    return (await createKey(admin, id, { limits })).key;
  }

  async function burst(key: string, n: number) {
    mock.faults.clear();
    mock.faults.push(...Array.from({ length: n }, () => ({ kind: 'delay' as const, ms: UPSTREAM_DELAY_MS })));
    const before = mock.requests.length;
    const results = await Promise.all(
      Array.from({ length: n }, async () => {
        const res = await chat(gw, key, ASK);
        return { status: res.status, text: await res.text() };
      }),
    );
    mock.faults.clear();
    return { results, upstream: mock.requests.length - before };
  }

  test('50 concurrent requests against a key quota that covers 5: 5 served, the rest 402 before any upstream byte', async (t) => {
    // The reservation of one ASK: its prompt counted high (a token a byte) plus max_tokens, at the price.
    const reservation = (promptTokenUpperBound(IR) + ASK.max_tokens) * NANO_PER_TOKEN;
    const quotaNano = 5 * reservation;
    const key = await keyWith({ quota: { usd: quotaNano / 1e9, period: 'total' } });
    const { results, upstream } = await burst(key, 50);
    const served = results.filter((r) => r.status === 200).length;
    const refused = results.filter((r) => r.status === 402);
    t.diagnostic(`${served} served, ${refused.length} refused; reservation ${reservation} nano, quota ${quotaNano}`);
    assert.equal(served + refused.length, 50, results.map((r) => r.status).join(','));
    assert.equal(served, 5);
    assert.equal(upstream, 5, 'refused requests reached no upstream');
    assert.match(refused[0]!.text, /This key has used its quota of \$0\.19 \(counting what requests in flight may/);
    // Settled at their real cost (less than reserved), so the quota has room again afterwards.
    const next = await chat(gw, key, ASK);
    assert.equal(next.status, 200, await next.text());
  });

  test('50 concurrent requests against a tpm that covers 5 (prompt estimate + max_tokens): 5 served, the rest 429', async () => {
    const perRequest = promptTokenEstimate(IR) + ASK.max_tokens;
    const key = await keyWith({ tpm: 5 * perRequest + Math.floor(perRequest / 2) });
    const { results, upstream } = await burst(key, 50);
    const served = results.filter((r) => r.status === 200).length;
    const limited = results.filter((r) => r.status === 429).length;
    assert.equal(served + limited, 50, results.map((r) => r.status).join(','));
    assert.equal(served, 5);
    assert.equal(upstream, 5);
  });

  test('a failed request gives its reservation back', async () => {
    const reservation = (promptTokenUpperBound(IR) + ASK.max_tokens) * NANO_PER_TOKEN;
    const key = await keyWith({ quota: { usd: reservation / 1e9, period: 'total' } });
    mock.faults.push({ kind: 'status', status: 400 });
    const failed = await chat(gw, key, ASK);
    await failed.text();
    assert.equal(failed.status, 400);
    const ok = await chat(gw, key, ASK);
    assert.equal(ok.status, 200, 'the failed request released its reservation');
    await ok.text();
  });
});

describe('reservations with Redis: two replicas share the quota reservations', () => {
  redisTest(
    '50 concurrent requests over two replicas against a key quota that covers 5: 5 served',
    async () => {
      const mock = await startMockOpenAI();
      const schema = `t_reserve_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
      const prefix = testPrefix();
      const shared = {
        demo: { enabled: false },
        providers: [mockProvider('up', mock.url, MODELS)],
        storage: { kind: 'postgres' as const, url: POSTGRES_TEST_URL, schema },
        redis: { url: REDIS_TEST_URL, keyPrefix: prefix, failMode: 'closed' as const },
        tenancy: { secret: 'a-shared-secret-of-at-least-32-characters' },
      };
      const a = await startTenancyGateway(shared);
      const b = await startTenancyGateway(shared);
      try {
        const admin = await adminClient(a);
        await admin.json('POST', '/admin/api/tenants', { id: 'shared' });
        const reservation = (promptTokenUpperBound(IR) + ASK.max_tokens) * NANO_PER_TOKEN;
        const { key } = await createKey(admin, 'shared', {
          limits: { quota: { usd: (5 * reservation) / 1e9, period: 'total' } },
        });
        mock.faults.push(...Array.from({ length: 50 }, () => ({ kind: 'delay' as const, ms: UPSTREAM_DELAY_MS })));
        const before = mock.requests.length;
        const results = await Promise.all(
          Array.from({ length: 50 }, async (_, i) => {
            const res = await chat(i % 2 === 0 ? a : b, key, ASK);
            return { status: res.status, text: await res.text() };
          }),
        );
        mock.faults.clear();
        const served = results.filter((r) => r.status === 200).length;
        const refused = results.filter((r) => r.status === 402).length;
        assert.equal(served + refused, 50, results.map((r) => `${r.status} ${r.text.slice(0, 80)}`).join('\n'));
        assert.equal(served, 5);
        assert.equal(mock.requests.length - before, 5, 'refused requests reached no upstream');
        // The reservations were settled into the real cost: the quota has room again.
        let again = 0;
        for (let i = 0; i < 50 && again !== 200; i++) {
          const res = await chat(b, key, ASK);
          await res.text();
          again = res.status;
          if (again !== 200) await new Promise((r) => setTimeout(r, 20));
        }
        assert.equal(again, 200);

        // A billed tenant's key (plenty of balance): the same shared reservation before the ledger's hold.
        await admin.json('POST', '/admin/api/tenants', { id: 'billed' });
        await admin.json('POST', '/admin/api/tenants/billed/account');
        await admin.json('POST', '/admin/api/tenants/billed/ledger', { kind: 'credit', amountUsd: '100', reason: 't' });
        const billedKey = (
          await createKey(admin, 'billed', { limits: { quota: { usd: (5 * reservation) / 1e9, period: 'total' } } })
        ).key;
        // Replica B learns of the account through its ledger poll (billing.pollMs).
        await new Promise((r) => setTimeout(r, 1_200));
        mock.faults.push(...Array.from({ length: 30 }, () => ({ kind: 'delay' as const, ms: UPSTREAM_DELAY_MS })));
        const billedResults = await Promise.all(
          Array.from({ length: 30 }, async (_, i) => {
            const res = await chat(i % 2 === 0 ? a : b, billedKey, ASK);
            return { status: res.status, text: await res.text() };
          }),
        );
        mock.faults.clear();
        const billedServed = billedResults.filter((r) => r.status === 200).length;
        assert.equal(billedServed, 5, billedResults.map((r) => `${r.status} ${r.text.slice(0, 100)}`).join('\n'));
        assert.ok(billedResults.every((r) => r.status === 200 || r.status === 402));
      } finally {
        await a.close();
        await b.close();
        await mock.close();
        await dropPrefix(prefix);
        const client = new pg.Client({ connectionString: POSTGRES_TEST_URL });
        await client.connect();
        await client.query(`drop schema if exists "${schema}" cascade`);
        await client.end();
      }
    },
    { timeout: 60_000 },
  );
});
