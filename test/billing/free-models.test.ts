import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FreeModelLimiter } from '../../src/limits/free-limits.ts';
import { mockProvider, TEST_API_KEY, type TestGateway } from '../helpers/gateway.ts';
import { MOCK_API_KEY, type MockOpenAI, startMockOpenAI } from '../mocks/openai-compatible.ts';
import { type AdminClient, adminClient, chat, createKey, startTenancyGateway } from '../tenancy/helpers.ts';

/**
 * Free models (docs/billing.md, "Free models"): a model priced at zero is routable for a billed account with no
 * balance (no hold, nothing charged), under its own per-key rates; OpenRouter's `:free` models are priced at zero
 * by the price library.
 */

const ask = (model: string) => ({ model, max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] });

interface Account {
  balanceNano: number;
  heldNano: number;
  entries: Array<{ kind: string }>;
}

describe('free models for a billed account with no balance', () => {
  let upstream: MockOpenAI;
  let gw: TestGateway;
  let admin: AdminClient;

  before(async () => {
    upstream = await startMockOpenAI();
    gw = await startTenancyGateway({
      demo: { enabled: false },
      limits: { free: { rpm: 3, rpd: 5 } },
      billing: { flushIntervalMs: 20 },
      providers: [
        mockProvider('paid', upstream.url, [{ name: 'gpt-4o-mini', qualityRank: 70, price: { input: 1, output: 2 } }]),
        mockProvider('local', upstream.url, [
          { name: 'llama-3.1-8b', qualityRank: 40, price: { input: 0, output: 0 } },
        ]),
        // OpenRouter's convention: the `:free` variant, priced at zero by the price library (no price given).
        {
          id: 'openrouter',
          kind: 'openrouter',
          baseUrl: upstream.url,
          keys: [MOCK_API_KEY],
          models: [{ name: 'deepseek/deepseek-chat-v3-0324:free', qualityRank: 60 }],
        },
      ],
    });
    admin = await adminClient(gw);
    await admin.json('POST', '/admin/api/tenants', { id: 'broke' });
    await admin.json('POST', '/admin/api/tenants/broke/account');
  });
  after(async () => {
    await gw?.close();
    await upstream?.close();
  });

  it('a priced model is refused (402); a free one answers, with no hold and no charge', async () => {
    const { key } = await createKey(admin, 'broke');
    assert.equal((await chat(gw, key, ask('paid/gpt-4o-mini'))).status, 402);
    assert.equal(gw.runtime.catalog.byId.get('openrouter/deepseek/deepseek-chat-v3-0324:free')?.price.output, 0);
    for (const model of ['local/llama-3.1-8b', 'deepseek/deepseek-chat-v3-0324:free']) {
      const res = await chat(gw, key, ask(model));
      assert.equal(res.status, 200, await res.clone().text());
      assert.equal(res.headers.get('x-model-router-cost'), '0.000000000');
    }
    const sent = upstream.requests.filter((r) => r.path.includes('/chat/completions')).at(-1)!;
    assert.equal((sent.body as { model: string }).model, 'deepseek/deepseek-chat-v3-0324:free');
    const account = await admin.json<Account>('GET', '/admin/api/tenants/broke/account');
    assert.equal(account.balanceNano, 0);
    assert.equal(account.heldNano, 0);
    assert.ok(!account.entries.some((e) => e.kind === 'hold'), JSON.stringify(account.entries));
  });

  it('under their own per-key rate: the 4th in a minute is 429 with Retry-After; another key has its own', async () => {
    const { key } = await createKey(admin, 'broke');
    for (let i = 0; i < 3; i++) assert.equal((await chat(gw, key, ask('local/llama-3.1-8b'))).status, 200);
    const limited = await chat(gw, key, ask('local/llama-3.1-8b'));
    assert.equal(limited.status, 429);
    const body = (await limited.json()) as { error: { code: string; message: string } };
    assert.equal(body.error.code, 'rate_limited');
    assert.match(body.error.message, /3 requests a minute/);
    assert.ok(Number(limited.headers.get('retry-after')) >= 1);
    assert.equal(limited.headers.get('x-model-router-model'), 'local/llama-3.1-8b');
    const other = await createKey(admin, 'broke');
    assert.equal((await chat(gw, other.key, ask('local/llama-3.1-8b'))).status, 200);
  });

  it('callers without an account are not held to the free rates', async () => {
    for (let i = 0; i < 6; i++) {
      const res = await chat(gw, TEST_API_KEY, ask('local/llama-3.1-8b'));
      assert.equal(res.status, 200, `request ${i + 1}`);
    }
  });
});

describe('FreeModelLimiter', () => {
  it('a minute rate frees up as the window slides; a day rate holds for the day', () => {
    let now = 1_000_000;
    const limiter = new FreeModelLimiter({ rpm: 2, rpd: 3 }, () => now);
    assert.equal(limiter.take('k'), undefined);
    assert.equal(limiter.take('k'), undefined);
    const minute = limiter.take('k');
    assert.equal(minute?.code, 'rate_limited');
    assert.ok((minute?.retryAfter ?? 0) >= 59 && (minute?.retryAfter ?? 0) <= 61, String(minute?.retryAfter));
    now += 61_000;
    assert.equal(limiter.take('k'), undefined);
    now += 61_000;
    const day = limiter.take('k');
    assert.match(day?.message ?? '', /3 requests a day/);
    assert.ok((day?.retryAfter ?? 0) > 80_000);
    assert.equal(limiter.take('other'), undefined);
    assert.equal(new FreeModelLimiter({ rpm: 0, rpd: 0 }).take('k'), undefined);
  });
});
