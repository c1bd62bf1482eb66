import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { CatalogModel } from '../../src/billing/catalog-types.ts';
import { computeSavings, embeddingTotals } from '../../src/dashboard/savings.ts';
import { type UsageRecord, writeUsageBatch } from '../../src/store/usage.ts';
import type { TestGateway } from '../helpers/gateway.ts';
import {
  ADMIN_PASSWORD,
  ADMIN_USER,
  type AdminClient,
  adminFormLogin,
  callInfo,
  chat,
  cookieFrom,
  csrfOf,
  getPage,
  postForm,
  startDashboardGateway,
  startTenancyGateway,
} from '../tenancy/helpers.ts';

/** What the pages show, from the rollups: totals, charts, splits, latency, recent requests, savings; admin views. */
describe('dashboard pages', () => {
  let gw: TestGateway;
  let admin: AdminClient;
  let cookie: string;

  before(async () => {
    ({ gw, admin, cookie } = await startDashboardGateway());
    // Ten known requests an hour ago: demo-fast, 1,000 tokens in and 500 out each ($0.003 at $1/$4 per Mtok).
    const at = Date.now() - 3_600_000;
    await writeUsageBatch(
      gw.runtime.store.db,
      Array.from({ length: 10 }, (_, i) => record(`seed-${i}`, at + i, i === 9 ? 503 : 200)),
    );
    await gw.runtime.usage.flush();
  });
  after(() => gw.close());

  test('the client overview shows charts, totals, splits, latency, recent requests and the savings', async () => {
    const { status, html } = await getPage(gw, '/client?range=24h', cookie);
    assert.equal(status, 200);
    const bars = [...html.matchAll(/<svg viewBox="0 0 \d+ \d+" role="img" aria-label="([^"]+)" data-bars="(\d+)"/g)];
    assert.deepEqual(
      bars.map((m) => m[1]),
      ['Spend over time', 'Requests over time', 'Tokens over time'],
    );
    assert.ok(
      bars.every((m) => Number(m[2]) >= 1),
      'every chart has bars',
    );
    assert.match(html, /class="donut"/);
    assert.match(html, /<h2>Latency<\/h2>/);
    assert.match(html, /demo\/demo-fast/);
    assert.match(html, /503 provider_unavailable/);
    // 9 successful seeded requests × $0.003 (+ the one real call), priced at demo-deep ($5/$20): 9 × $0.015.
    assert.match(html, /You would have paid <strong>\$0\.1\d{3}<\/strong>/);
    assert.match(html, /Saved vs\. deep tier/);
  });

  test('ranges: 7 days and 30 days render; an unknown range falls back to 24 hours', async () => {
    for (const range of ['7d', '30d', 'bogus']) {
      const { status, html } = await getPage(gw, `/client?range=${range}`, cookie);
      assert.equal(status, 200);
      assert.match(html, /class="active" aria-current="true">/);
    }
  });

  test('savings: token sums × the deep model’s base price (long-context surcharges left out)', () => {
    const deep = {
      id: 'p/deep',
      price: {
        input: 5,
        cachedInput: 0.5,
        cacheWrite: 6,
        output: 20,
        tiers: [{ aboveInputTokens: 1, input: 99, cachedInput: 99, cacheWrite: 99, output: 99 }],
      },
    } as unknown as CatalogModel;
    const totals = {
      requests: 2,
      errors: 0,
      attempts: 2,
      inputTokens: 3_000,
      cachedInputTokens: 1_000,
      cacheWriteTokens: 0,
      outputTokens: 1_000,
      reasoningTokens: 0,
      costNanoUsd: 4_000_000,
      latencyMsSum: 0,
      avgLatencyMs: 0,
    };
    // (2,000 × 5 + 1,000 × 0.5 + 1,000 × 20) × 1,000 nano = 30,500,000 nano.
    assert.deepEqual(computeSavings(totals, deep), {
      model: deep,
      actualNano: 4_000_000,
      deepNano: 30_500_000,
      savedNano: 26_500_000,
    });
    assert.equal(computeSavings(totals, undefined).savedNano, 0);

    // 1,000 of the input tokens were an embedding model's, costing 20,000 nano: they count at that cost, not at
    // the deep chat model's rates.
    const embeddingRow = {
      ...totals,
      key: 'p/embed',
      requests: 1,
      inputTokens: 1_000,
      cachedInputTokens: 0,
      outputTokens: 0,
      costNanoUsd: 20_000,
    };
    const chatRow = { ...totals, key: 'p/chat' };
    const catalog = {
      byId: new Map([
        ['p/embed', { id: 'p/embed', mode: 'embedding' } as CatalogModel],
        ['p/chat', { id: 'p/chat' } as CatalogModel],
      ]),
    };
    const embeddings = embeddingTotals([chatRow, embeddingRow, { ...totals, key: null }], catalog);
    assert.equal(embeddings.inputTokens, 1_000);
    assert.equal(embeddings.costNanoUsd, 20_000);
    // (1,000 × 5 + 1,000 × 0.5 + 1,000 × 20) × 1,000 + 20,000 = 25,520,000 nano.
    assert.equal(computeSavings(totals, deep, embeddings).deepNano, 25_520_000);
    assert.equal(embeddingTotals([chatRow], catalog).inputTokens, 0);
  });

  test('admin: form login and analytics across tenants with provider health', async () => {
    const wrong = await postForm(gw, '/admin/login', '', { username: ADMIN_USER, password: 'nope' });
    assert.equal(wrong.status, 401);
    assert.match(await wrong.text(), /Wrong username or password/);
    const login = await postForm(gw, '/admin/login', '', { username: ADMIN_USER, password: ADMIN_PASSWORD });
    assert.equal(login.status, 303);
    const setCookie = login.headers.getSetCookie().find((c) => c.startsWith('modro_admin='))!;
    assert.match(setCookie, /Path=\/admin; .*HttpOnly; SameSite=Strict/);
    const adminCookie = cookieFrom(login, 'modro_admin');
    const { status, html } = await getPage(gw, '/admin?range=24h', adminCookie);
    assert.equal(status, 200);
    assert.match(html, /<h2>Top tenants<\/h2>/);
    assert.match(html, /href="\/admin\/tenants\/acme">acme<\/a>/);
    assert.match(html, /<td class="mono">demo#local<\/td>\s*<td><span class="badge good">closed<\/span>/);
    assert.match(html, /<h2>Latency<\/h2>[\s\S]*p99/);
    assert.match(html, /Error rate/);
    const json = await admin.json<{ topTenants: Array<{ tenantId: string }>; health: unknown[] }>(
      'GET',
      '/admin/api/analytics?range=24h',
    );
    assert.ok(json.topTenants.some((t) => t.tenantId === 'acme'));
    assert.equal(json.health.length, 1);
  });

  test('admin forms: create a tenant, create a key (shown once), revoke it', async () => {
    const adminCookie = await adminFormLogin(gw);
    const tenantsPage = await getPage(gw, '/admin/tenants', adminCookie);
    const csrf = csrfOf(tenantsPage.html);
    const created = await postForm(gw, '/admin/tenants', adminCookie, {
      _csrf: csrf,
      id: 'initech',
      name: 'Initech',
      preset: 'quality',
    });
    assert.equal(created.status, 303);
    assert.equal((await gw.runtime.tenancy.repo.getTenant('initech'))?.preset, 'quality');
    const keyPage = await postForm(gw, '/admin/tenants/initech/keys', adminCookie, { _csrf: csrf, name: 'web' });
    assert.equal(keyPage.status, 201);
    const key = /<code class="secret" id="secret">(mdro_[A-Za-z0-9_-]+)<\/code>/.exec(await keyPage.text())?.[1];
    assert.ok(key);
    assert.equal((await callInfo(await chat(gw, key))).status, 200);
    const detail = await getPage(gw, '/admin/tenants/initech', adminCookie);
    assert.ok(!detail.html.includes(key), 'the key is not shown again');
    const keyId = /action="\/admin\/keys\/(key_[0-9a-f]+)\/revoke"/.exec(detail.html)?.[1];
    assert.ok(keyId);
    const revoked = await postForm(gw, `/admin/keys/${keyId}/revoke`, adminCookie, { _csrf: csrf });
    assert.equal(revoked.status, 303);
    assert.equal((await callInfo(await chat(gw, key))).status, 401);
    const duplicate = await postForm(gw, '/admin/tenants', adminCookie, { _csrf: csrf, id: 'initech' });
    assert.equal(duplicate.status, 400);
    assert.match(await duplicate.text(), /already exists/);
  });

  test('the admin login is throttled after repeated failures', async () => {
    const throttled = await startTenancyGateway();
    try {
      let last = 0;
      for (let i = 0; i < 11; i++) {
        const res = await postForm(throttled, '/admin/login', '', { username: ADMIN_USER, password: `wrong-${i}` });
        last = res.status;
        await res.text();
      }
      assert.equal(last, 429);
      const right = await postForm(throttled, '/admin/login', '', { username: ADMIN_USER, password: ADMIN_PASSWORD });
      assert.equal(right.status, 429, 'even the right password waits out the window');
    } finally {
      await throttled.close();
    }
  });
});

function record(requestId: string, at: number, status: number): UsageRecord {
  const ok = status === 200;
  return {
    requestId,
    at,
    tenantId: 'acme',
    keyId: 'seed',
    protocol: 'openai-chat',
    requestedModel: 'fast',
    tier: 'fast',
    preset: 'balanced',
    routerScore: null,
    chooser: null,
    modelId: 'demo/demo-fast',
    providerId: 'demo',
    providerKeyId: 'demo#local',
    attempts: 1,
    stream: false,
    inputTokens: ok ? 1_000 : 0,
    cachedInputTokens: 0,
    cacheWriteTokens: 0,
    outputTokens: ok ? 500 : 0,
    reasoningTokens: 0,
    costNanoUsd: ok ? 3_000_000 : 0,
    latencyMs: 300,
    ttfbMs: 100,
    status,
    errorCode: ok ? null : 'provider_unavailable',
  };
}
