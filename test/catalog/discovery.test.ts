import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parseConfig } from '../../src/config/load.ts';
import type { ConfigInput } from '../../src/config/schema.ts';
import { MASTER_KEY, mockChannel, startChannelGateway } from '../channels/helpers.ts';
import { mockProvider, TEST_API_KEY, type TestGateway } from '../helpers/gateway.ts';
import { type MockAnthropic, startMockAnthropic } from '../mocks/anthropic.ts';
import { type MockGemini, startMockGemini } from '../mocks/gemini.ts';
import { MOCK_API_KEY, type MockOpenAI, startMockOpenAI } from '../mocks/openai-compatible.ts';
import { type AdminClient, callInfo, chat, waitFor } from '../tenancy/helpers.ts';

/**
 * Model discovery (ADR 0031): a provider's listing names a cheaper model of the same rank; after the next
 * refresh (on demand, or the schedule) `fast:cheapest` routes to it with no restart and no configuration change.
 * A model no one ranked is listed and routable by name but in no tier until the operator ranks it.
 */

const fastCheapest = async (gw: TestGateway) =>
  callInfo(await chat(gw, TEST_API_KEY, { model: 'fast:cheapest', messages: [{ role: 'user', content: 'hi' }] }));

interface RefreshAnswer {
  ok: boolean;
  results: Array<{
    provider: string;
    ok: boolean;
    listed: number;
    added: string[];
    removed: string[];
    unranked: string[];
    code?: string;
    upstreamStatus?: number | null;
  }>;
}

/** Every catalog id in any preset and tier of the router's table. */
function tiered(gw: TestGateway): Set<string> {
  const out = new Set<string>();
  for (const preset of ['cheapest', 'balanced', 'quality'] as const)
    for (const tier of ['utility', 'fast', 'deep'] as const)
      for (const m of gw.runtime.router.listFor(preset, tier, {})) out.add(m.id);
  return out;
}

// gpt-4o-mini configured at a high price with the rank Modro gives gpt-4.1-mini (kinds/openai.ts: 68).
const OPEN = () => [{ name: 'gpt-4o-mini', qualityRank: 68, price: { input: 5, output: 10 } }];
const discoveryOn = (intervalMs = 3_600_000): ConfigInput['catalog'] => ({ discovery: { enabled: true, intervalMs } });

describe('discovery on demand: POST /admin/api/catalog/refresh', () => {
  let upstream: MockOpenAI;
  let gw: TestGateway;
  let admin: AdminClient;

  before(async () => {
    upstream = await startMockOpenAI({ models: ['gpt-4o-mini'] });
    ({ gw, admin } = await startChannelGateway({
      providers: [mockProvider('open', upstream.url, OPEN())],
      catalog: discoveryOn(),
    }));
    // The first listing at start is not awaited; wait for it so the refreshes below are the ones tested.
    await waitFor(() => upstream.requests.some((r) => r.path === '/v1/models'), 'the first listing');
  });
  after(async () => {
    await gw?.close();
    await upstream?.close();
  });

  it('a cheaper model of the same rank takes fast:cheapest after the refresh; an unranked one joins no tier', async () => {
    assert.equal((await fastCheapest(gw)).model, 'open/gpt-4o-mini');
    upstream.options.models = ['gpt-4o-mini', 'gpt-4.1-mini', 'gpt-4o', 'whisper-1', 'gpt-unpriced-9'];
    const answer = await admin.json<RefreshAnswer>('POST', '/admin/api/catalog/refresh');
    const open = answer.results.find((r) => r.provider === 'open')!;
    assert.equal(open.ok, true);
    assert.deepEqual(open.added.sort(), ['gpt-4.1-mini', 'gpt-4o', 'gpt-unpriced-9']);
    assert.deepEqual(open.unranked, ['open/gpt-4o']);

    const info = await fastCheapest(gw);
    assert.equal(info.status, 200, info.body);
    assert.equal(info.model, 'open/gpt-4.1-mini');
    const sent = upstream.requests.filter((r) => r.path.includes('/chat/completions')).at(-1)!;
    assert.equal((sent.body as { model: string }).model, 'gpt-4.1-mini');

    // gpt-4o: priced by the library, ranked by no one: listed, routable by name, in no tier.
    const listed = await gw.client.models.list();
    const ids = listed.data.map((m) => m.id);
    assert.ok(ids.includes('open/gpt-4o'), ids.join());
    assert.ok(!ids.some((id) => id.includes('whisper') || id.includes('unpriced')), ids.join());
    assert.ok(!tiered(gw).has('open/gpt-4o'));
    assert.ok(tiered(gw).has('open/gpt-4.1-mini'));
    const named = await callInfo(
      await chat(gw, TEST_API_KEY, { model: 'open/gpt-4o', messages: [{ role: 'user', content: 'hi' }] }),
    );
    assert.equal(named.status, 200, named.body);
    assert.equal(named.model, 'open/gpt-4o');
  });

  it('the operator ranks it (catalog.ranks, a reloaded file): it joins its tier', async () => {
    const next = parseConfig({
      ...gw.runtime.config,
      server: { ...gw.runtime.config.server, port: 0 },
      catalog: { ...gw.runtime.config.catalog, ranks: { 'gpt-4o': 85 } },
    } as ConfigInput);
    gw.runtime.applyConfig(next);
    assert.ok(tiered(gw).has('open/gpt-4o'));
    assert.ok(gw.runtime.router.listFor('quality', 'deep', {}).some((m) => m.id === 'open/gpt-4o'));
    assert.ok(!gw.runtime.catalog.byId.get('open/gpt-4o')!.unranked);
  });

  it('a failed listing keeps the last list; a model no longer listed leaves', async () => {
    upstream.faults.push({ kind: 'status', status: 500 });
    const failed = await admin.json<RefreshAnswer>('POST', '/admin/api/catalog/refresh');
    const open = failed.results.find((r) => r.provider === 'open')!;
    assert.equal(failed.ok, false);
    assert.equal(open.ok, false);
    assert.equal(open.upstreamStatus, 500);
    assert.equal((await fastCheapest(gw)).model, 'open/gpt-4.1-mini');

    upstream.options.models = ['gpt-4o-mini'];
    const after = await admin.json<RefreshAnswer>('POST', '/admin/api/catalog/refresh');
    assert.deepEqual(after.results.find((r) => r.provider === 'open')!.removed.sort(), [
      'gpt-4.1-mini',
      'gpt-4o',
      'gpt-unpriced-9',
    ]);
    assert.equal((await fastCheapest(gw)).model, 'open/gpt-4o-mini');
    assert.equal(gw.runtime.catalog.byId.get('open/gpt-4.1-mini'), undefined);
  });

  it('the admin page has the same refresh, and says what it found', async () => {
    upstream.options.models = ['gpt-4o-mini', 'gpt-3.5-turbo'];
    const { adminFormLogin, csrfOf, getPage, postForm } = await import('../tenancy/helpers.ts');
    const cookie = await adminFormLogin(gw);
    const page = await getPage(gw, '/admin/channels', cookie);
    assert.match(page.html, /action="\/admin\/catalog\/refresh"/);
    const res = await postForm(gw, '/admin/catalog/refresh', cookie, { _csrf: csrfOf(page.html) });
    const html = await res.text();
    assert.equal(res.status, 200);
    assert.match(
      html,
      /open: 2 listed, added gpt-3\.5-turbo; waiting for a rank \(catalog\.ranks\): open\/gpt-3\.5-turbo/,
    );
    upstream.options.models = ['gpt-4o-mini'];
    await admin.json('POST', '/admin/api/catalog/refresh');
  });

  it('needs an admin session and a CSRF token', async () => {
    const bare = await fetch(`${gw.url}/admin/api/catalog/refresh`, { method: 'POST' });
    assert.equal(bare.status, 401);
    const noCsrf = await admin.request('POST', '/admin/api/catalog/refresh', undefined, { 'x-csrf-token': 'x' });
    assert.equal(noCsrf.status, 403);
  });
});

describe('discovery on a schedule, for a channel', () => {
  let upstream: MockOpenAI;
  let gw: TestGateway;

  before(async () => {
    const KEY = 'sk-channel-disc-0123456789abcdefghijklmno';
    upstream = await startMockOpenAI({ apiKeys: [MOCK_API_KEY, KEY], models: ['gpt-4o-mini'] });
    let admin: AdminClient;
    ({ gw, admin } = await startChannelGateway({ catalog: discoveryOn(1_000) }, { MODRO_MASTER_KEY: MASTER_KEY }));
    const res = await admin.request('POST', '/admin/api/channels', {
      ...mockChannel('chan', upstream.url, [KEY]),
      models: [{ name: 'gpt-4o-mini', price: { input: 5, output: 10 }, qualityRank: 68, contextWindow: 128_000 }],
    });
    assert.equal(res.status, 201, await res.text());
  });
  after(async () => {
    await gw?.close();
    await upstream?.close();
  });

  it('the next scheduled listing moves fast:cheapest to the new model, with the channel key', async () => {
    assert.equal((await fastCheapest(gw)).model, 'chan/gpt-4o-mini');
    upstream.options.models = ['gpt-4o-mini', 'gpt-4.1-mini'];
    await waitFor(() => gw.runtime.catalog.byId.has('chan/gpt-4.1-mini'), 'the scheduled listing', 5_000);
    const info = await fastCheapest(gw);
    assert.equal(info.model, 'chan/gpt-4.1-mini', info.body);
    const listing = upstream.requests.filter((r) => r.path === '/v1/models').at(-1)!;
    assert.equal(listing.headers.authorization, 'Bearer sk-channel-disc-0123456789abcdefghijklmno');
  });
});

describe('discovery of Anthropic and Gemini providers', () => {
  let anthropic: MockAnthropic;
  let gemini: MockGemini;
  let gw: TestGateway;
  let admin: AdminClient;

  before(async () => {
    anthropic = await startMockAnthropic({ models: ['claude-haiku-4-5'] });
    gemini = await startMockGemini();
    gemini.models = ['gemini-2.5-flash'];
    ({ gw, admin } = await startChannelGateway({
      providers: [
        {
          id: 'ant',
          kind: 'anthropic',
          baseUrl: anthropic.url,
          keys: [anthropic.apiKey],
          models: [{ name: 'claude-haiku-4-5', price: { input: 1, output: 5 } }],
        },
        {
          id: 'gem',
          kind: 'gemini',
          baseUrl: gemini.baseUrl,
          keys: [gemini.apiKey],
          models: [{ name: 'gemini-2.5-flash', price: { input: 0.3, output: 2.5 } }],
        },
      ],
      catalog: discoveryOn(),
    }));
    await waitFor(() => anthropic.requests.some((r) => r.path === '/v1/models'), 'the first listing');
  });
  after(async () => {
    await gw?.close();
    await anthropic?.close();
    await gemini?.close();
  });

  it('models both list join the catalog, priced and ranked from what Modro knows of them', async () => {
    anthropic.models = ['claude-opus-4-7', 'claude-sonnet-4-5', 'claude-haiku-4-5'];
    gemini.models = ['gemini-2.5-pro', 'gemini-2.5-flash', 'gemini-embedding-001'];
    const answer = await admin.json<RefreshAnswer>('POST', '/admin/api/catalog/refresh');
    assert.equal(answer.ok, true, JSON.stringify(answer));
    const catalog = gw.runtime.catalog;
    assert.equal(catalog.byId.get('ant/claude-sonnet-4-5')?.qualityRank, 91);
    assert.ok(catalog.byId.get('ant/claude-opus-4-7'), 'priced by the price library');
    assert.equal(catalog.byId.get('gem/gemini-2.5-pro')?.qualityRank, 89);
    assert.equal(catalog.byId.get('gem/gemini-embedding-001')?.mode, 'embedding');
    const listing = anthropic.requests.filter((r) => r.path === '/v1/models').at(-1)!;
    assert.equal(listing.headers['x-api-key'], anthropic.apiKey);
    assert.ok(listing.headers['anthropic-version']);
    const deep = await callInfo(
      await chat(gw, TEST_API_KEY, { model: 'deep:quality', messages: [{ role: 'user', content: 'hi' }] }),
    );
    assert.equal(deep.status, 200, deep.body);
    // The best ranked of what both listed (kinds/anthropic.ts ranks claude-opus-4-7 highest).
    assert.equal(deep.model, 'ant/claude-opus-4-7');
  });
});
