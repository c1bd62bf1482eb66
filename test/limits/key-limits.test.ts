import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import OpenAI from 'openai';
import type { ConfigInput } from '../../src/config/schema.ts';
import { runCli } from '../channels/cli.ts';
import { mockProvider, type TestGateway } from '../helpers/gateway.ts';
import { type MockOpenAI, startMockOpenAI } from '../mocks/openai-compatible.ts';
import {
  type AdminClient,
  adminClient,
  adminFormLogin,
  chat,
  csrfOf,
  getPage,
  postForm,
  startTenancyGateway,
} from '../tenancy/helpers.ts';

/**
 * Per-key limits end to end on one node: a real gateway on loopback, a mock OpenAI upstream that records what
 * reaches it, keys made through the admin JSON API (and the CLI), calls through HTTP and the OpenAI SDK.
 */

const MODELS = [
  { name: 'gpt-4.1-nano', qualityRank: 40, tiers: ['utility' as const] },
  { name: 'gpt-4o-mini', qualityRank: 70, tiers: ['fast' as const] },
  { name: 'gpt-4o', qualityRank: 90, tiers: ['deep' as const] },
];
const FAST = { model: 'fast', messages: [{ role: 'user', content: 'hello there' }] };

async function startLimitsGateway(mock: MockOpenAI, extra: ConfigInput = {}): Promise<TestGateway> {
  return startTenancyGateway({
    demo: { enabled: false },
    providers: [
      mockProvider(
        'up',
        mock.url,
        MODELS.map((m) => ({ ...m, price: { input: 1000, output: 1000 } })),
      ),
    ],
    ...extra,
  });
}

async function keyWith(admin: AdminClient, limits: Record<string, unknown>): Promise<{ id: string; key: string }> {
  return admin.json<{ id: string; key: string }>('POST', '/admin/api/keys', { tenantId: 'acme', limits });
}

function chatRequests(mock: MockOpenAI): number {
  return mock.requests.filter((r) => r.path.endsWith('/chat/completions')).length;
}

async function errorOf(res: Response): Promise<{ status: number; code: string; message: string; param: unknown }> {
  const body = (await res.json()) as { error: { code: string; message: string; param: unknown } };
  return { status: res.status, code: body.error.code, message: body.error.message, param: body.error.param };
}

describe('per-key limits', () => {
  let mock: MockOpenAI;
  let gw: TestGateway;
  let admin: AdminClient;

  before(async () => {
    mock = await startMockOpenAI();
    gw = await startLimitsGateway(mock);
    admin = await adminClient(gw);
    await admin.json('POST', '/admin/api/tenants', { id: 'acme' });
  });
  after(async () => {
    await gw.close();
    await mock.close();
  });

  test('rpm: requests past the limit get 429 with Retry-After and x-ratelimit headers, and reach no upstream', async () => {
    const { key } = await keyWith(admin, { rpm: 3 });
    for (let i = 0; i < 3; i++) {
      const res = await chat(gw, key, FAST);
      await res.text();
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('x-ratelimit-limit-requests'), '3');
      assert.equal(res.headers.get('x-ratelimit-remaining-requests'), String(2 - i));
      assert.match(res.headers.get('x-ratelimit-reset-requests') ?? '', /^\d+(\.\d+)?m?s$|^\d+m\d+(\.\d+)?s$/);
      assert.equal(res.headers.get('x-ratelimit-limit-tokens'), null, 'no tpm, no token headers');
    }
    const before = chatRequests(mock);
    const client = new OpenAI({ baseURL: gw.baseURL, apiKey: key, maxRetries: 0 });
    const refused = await client.chat.completions
      .create({ model: 'fast', messages: [{ role: 'user', content: 'one too many' }] })
      .then(
        () => assert.fail('the fourth request of the minute was served'),
        (err: unknown) => err,
      );
    assert.ok(refused instanceof OpenAI.RateLimitError, String(refused));
    assert.equal(refused.status, 429);
    assert.equal(refused.code, 'rate_limited');
    const retryAfter = Number(refused.headers?.get('retry-after'));
    // Up to 60.1 s: a request stays in the window until 60 s after the end of its 100 ms bucket.
    assert.ok(retryAfter >= 1 && retryAfter <= 61, `Retry-After ${retryAfter}`);
    assert.equal(refused.headers?.get('x-ratelimit-remaining-requests'), '0');
    assert.equal(refused.headers?.get('x-ratelimit-limit-requests'), '3');
    assert.equal(chatRequests(mock), before, 'the refused request reached no upstream');
  });

  test('rpm is exact under concurrency: 2 x rpm requests at once, exactly rpm are served', async () => {
    const rpm = 8;
    const { key } = await keyWith(admin, { rpm });
    const before = chatRequests(mock);
    const answers = await Promise.all(
      Array.from({ length: 2 * rpm }, async () => {
        const res = await chat(gw, key, FAST);
        await res.text();
        return res.status;
      }),
    );
    assert.equal(answers.filter((s) => s === 200).length, rpm);
    assert.equal(answers.filter((s) => s === 429).length, rpm);
    assert.equal(chatRequests(mock) - before, rpm, 'the upstream saw exactly rpm requests');
  });

  test('tpm: the prompt estimate is corrected with the real usage; a request that does not fit is refused', async () => {
    const tpm = 1000;
    const { key } = await keyWith(admin, { tpm });
    const first = await chat(gw, key, FAST);
    const body = (await first.json()) as { usage: { total_tokens: number } };
    assert.equal(first.status, 200);
    assert.equal(first.headers.get('x-ratelimit-limit-tokens'), String(tpm));
    const remaining = tpm - body.usage.total_tokens;
    assert.equal(
      first.headers.get('x-ratelimit-remaining-tokens'),
      String(remaining),
      'after the answer, the window holds its real prompt + completion tokens',
    );
    // A prompt estimated (four bytes a token) just above what is left, but under the whole limit.
    const text = 'abcd'.repeat(remaining);
    const before = chatRequests(mock);
    const refused = await chat(gw, key, { model: 'fast', messages: [{ role: 'user', content: text }] });
    const error = await errorOf(refused);
    assert.equal(error.status, 429);
    assert.equal(error.code, 'rate_limited');
    assert.match(error.message, /tokens per minute/);
    assert.ok(Number(refused.headers.get('retry-after')) >= 1);
    assert.equal(refused.headers.get('x-ratelimit-remaining-tokens'), String(remaining));
    // A prompt alone larger than the limit can never fit.
    const huge = await errorOf(
      await chat(gw, key, { model: 'fast', messages: [{ role: 'user', content: 'abcd'.repeat(2 * tpm) }] }),
    );
    assert.equal(huge.status, 429);
    assert.match(huge.message, /more than this key's limit/);
    assert.equal(chatRequests(mock), before);
  });

  test('tpm: a stream counts its metered usage when it ends; count_tokens counts a request but no tokens', async () => {
    const tpm = 50_000;
    const { key } = await keyWith(admin, { tpm, rpm: 100 });
    const client = new OpenAI({ baseURL: gw.baseURL, apiKey: key, maxRetries: 0 });
    const stream = await client.chat.completions.create({
      model: 'fast',
      messages: [{ role: 'user', content: 'stream to me' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let total = 0;
    for await (const chunk of stream) if (chunk.usage) total = chunk.usage.total_tokens;
    assert.ok(total > 0, 'the stream reported its usage');
    const peek = async () => {
      const res = await fetch(`${gw.url}/v1/models`, { headers: { authorization: `Bearer ${key}` } });
      await res.text();
      return res.headers;
    };
    const afterStream = await peek();
    assert.equal(afterStream.get('x-ratelimit-remaining-tokens'), String(tpm - total));
    assert.equal(afterStream.get('x-ratelimit-remaining-requests'), '99', 'the model list itself is not counted');
    const counted = await fetch(`${gw.url}/v1/messages/count_tokens`, {
      method: 'POST',
      headers: { 'x-api-key': key, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({ model: 'fast', messages: [{ role: 'user', content: 'count these words please' }] }),
    });
    await counted.text();
    assert.equal(counted.status, 200);
    const afterCount = await peek();
    assert.equal(afterCount.get('x-ratelimit-remaining-tokens'), String(tpm - total));
    assert.equal(afterCount.get('x-ratelimit-remaining-requests'), '98');
  });

  test('quota: spend past the quota gets 402 quota_exceeded; a new quota starts from the stored spend', async () => {
    // Price 1000 $/M tokens: every token costs $0.001, so one small request spends more than $0.005.
    const { id, key } = await keyWith(admin, { quota: { usd: 0.005, period: 'daily' } });
    const first = await chat(gw, key, FAST);
    await first.text();
    assert.equal(first.status, 200);
    const before = chatRequests(mock);
    const refused = await errorOf(await chat(gw, key, FAST));
    assert.equal(refused.status, 402);
    assert.equal(refused.code, 'quota_exceeded');
    assert.equal(chatRequests(mock), before, 'no upstream call once the quota is spent');
    // A monthly quota is a new counter: initialised from the usage records stored for this key.
    await admin.json('PATCH', `/admin/api/keys/${id}`, { limits: { quota: { usd: 0.005, period: 'monthly' } } });
    assert.equal((await errorOf(await chat(gw, key, FAST))).status, 402);
    await admin.json('PATCH', `/admin/api/keys/${id}`, { limits: { quota: { usd: 100, period: 'monthly' } } });
    const served = await chat(gw, key, FAST);
    await served.text();
    assert.equal(served.status, 200, 'a raised quota lets the key through again');
  });

  test('ips: a client outside the key’s ranges gets 403 permission_denied', async () => {
    const denied = await keyWith(admin, { ips: ['10.0.0.0/8', '2001:db8::/32'] });
    const before = chatRequests(mock);
    const error = await errorOf(await chat(gw, denied.key, FAST));
    assert.equal(error.status, 403);
    assert.equal(error.code, 'permission_denied');
    assert.equal(chatRequests(mock), before);
    // X-Forwarded-For is ignored without trusted proxies: a spoofed header changes nothing.
    assert.equal((await errorOf(await chat(gw, denied.key, FAST, { 'x-forwarded-for': '10.1.2.3' }))).status, 403);
    const allowed = await keyWith(admin, { ips: ['127.0.0.0/8', '::1/128'] });
    const res = await chat(gw, allowed.key, FAST);
    await res.text();
    assert.equal(res.status, 200);
  });

  test('models: a concrete model or a tier outside the key’s list is refused with 403; routing keeps to the list', async () => {
    const { key } = await keyWith(admin, { models: ['up/gpt-4.1-nano', 'gpt-4o-mini'] });
    const named = await errorOf(await chat(gw, key, { ...FAST, model: 'up/gpt-4o' }));
    assert.equal(named.status, 403);
    assert.equal(named.code, 'permission_denied');
    assert.equal(named.param, 'model');
    const tier = await errorOf(await chat(gw, key, { ...FAST, model: 'deep' }));
    assert.equal(tier.status, 403, 'every model of the deep tier is outside the list');
    assert.equal(tier.code, 'permission_denied');
    const fast = await chat(gw, key, FAST);
    await fast.text();
    assert.equal(fast.status, 200);
    assert.equal(fast.headers.get('x-model-router-model'), 'up/gpt-4o-mini');
    // `deep:quality` lists the deep tier and above; `utility:quality` lists utility and above, best first:
    // with the key's list, routing picks only listed models.
    const quality = await chat(gw, key, { ...FAST, model: 'utility:quality' });
    await quality.text();
    assert.equal(quality.status, 200);
    assert.ok(['up/gpt-4o-mini', 'up/gpt-4.1-nano'].includes(quality.headers.get('x-model-router-model') ?? ''));
    const auto = await chat(gw, key, { ...FAST, model: 'auto' });
    await auto.text();
    assert.equal(auto.status, 200);
    assert.notEqual(auto.headers.get('x-model-router-model'), 'up/gpt-4o');
    const listed = await fetch(`${gw.url}/v1/models`, { headers: { authorization: `Bearer ${key}` } });
    const ids = ((await listed.json()) as { data: Array<{ id: string }> }).data.map((m) => m.id);
    assert.ok(ids.includes('up/gpt-4o-mini') && ids.includes('up/gpt-4.1-nano'));
    assert.ok(!ids.includes('up/gpt-4o'), 'the model list shows only the key’s models');
  });

  test('scopes: a key calls only the endpoints its scopes grant', async () => {
    const readOnly = await keyWith(admin, { scopes: ['read-only'] });
    const denied = await errorOf(await chat(gw, readOnly.key, FAST));
    assert.equal(denied.status, 403);
    assert.equal(denied.code, 'permission_denied');
    const models = await fetch(`${gw.url}/v1/models`, { headers: { authorization: `Bearer ${readOnly.key}` } });
    await models.text();
    assert.equal(models.status, 200);
    const chatOnly = await keyWith(admin, { scopes: ['chat'] });
    const listing = await fetch(`${gw.url}/v1/models`, { headers: { authorization: `Bearer ${chatOnly.key}` } });
    assert.equal(listing.status, 403);
    await listing.text();
    const messages = await fetch(`${gw.url}/v1/messages`, {
      method: 'POST',
      headers: {
        'x-api-key': chatOnly.key,
        authorization: `Bearer ${chatOnly.key}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ model: 'fast', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] }),
    });
    await messages.text();
    assert.equal(messages.status, 403);
    const ok = await chat(gw, chatOnly.key, FAST);
    await ok.text();
    assert.equal(ok.status, 200);
  });

  test('rotation: a new secret works at once, the old one until its grace period ends, then 401', async () => {
    const { id, key: old } = await keyWith(admin, { rpm: 100 });
    const rotated = await admin.json<{ id: string; key: string; previousValidUntil: number }>(
      'POST',
      `/admin/api/keys/${id}/rotate`,
      { graceHours: 1.5 / 3600 },
    );
    assert.equal(rotated.id, id, 'same key: same limits, usage and counters');
    assert.notEqual(rotated.key, old);
    for (const token of [old, rotated.key]) {
      const res = await chat(gw, token, FAST);
      await res.text();
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('x-ratelimit-limit-requests'), '100', 'the rotated key keeps its limits');
    }
    await sleep(Math.max(0, rotated.previousValidUntil - Date.now()) + 50);
    const expired = await errorOf(await chat(gw, old, FAST));
    assert.equal(expired.status, 401);
    assert.match(expired.message, /rotated/);
    const fresh = await chat(gw, rotated.key, FAST);
    await fresh.text();
    assert.equal(fresh.status, 200);
    // graceHours 0: the previous secret stops at once.
    const again = await admin.json<{ key: string }>('POST', `/admin/api/keys/${id}/rotate`, { graceHours: 0 });
    assert.equal((await errorOf(await chat(gw, rotated.key, FAST))).status, 401);
    const last = await chat(gw, again.key, FAST);
    await last.text();
    assert.equal(last.status, 200);
  });

  test('validation: bad ranges, rates, models, scopes and quotas are refused with the field named', async () => {
    const cases: Array<[Record<string, unknown>, string, RegExp]> = [
      [{ ips: ['10.0.0.0/33'] }, 'limits.ips', /prefix length/],
      [{ ips: ['not-an-ip'] }, 'limits.ips', /not an IPv4 or IPv6/],
      [{ rpm: -1 }, 'limits.rpm', /whole number/],
      [{ rpm: 1.5 }, 'limits.rpm', /whole number/],
      [{ tpm: 0 }, 'limits.tpm', /whole number/],
      [{ models: ['up/no-such-model'] }, 'limits.models', /Unknown models: up\/no-such-model/],
      [{ scopes: ['chat', 'admin'] }, 'limits.scopes', /Unknown scopes: admin/],
      [{ quota: { usd: -5, period: 'monthly' } }, 'limits.quota.usd', /0 or more/],
      [{ quota: { usd: 5, period: 'weekly' } }, 'limits.quota.period', /total, monthly, daily/],
      [{ burst: 3 }, 'limits', /Unknown limits: burst/],
    ];
    for (const [limits, param, message] of cases) {
      const res = await admin.request('POST', '/admin/api/keys', { tenantId: 'acme', limits });
      const body = (await res.json()) as { error: { code: string; message: string; param: string } };
      assert.equal(res.status, 400, JSON.stringify(limits));
      assert.equal(body.error.code, 'invalid_request');
      assert.equal(body.error.param, param, JSON.stringify(limits));
      assert.match(body.error.message, message);
    }
    const patch = await admin.request('PATCH', '/admin/api/keys/key_nope', { limits: { rpm: 5 } });
    assert.equal(patch.status, 404);
    await patch.text();
  });

  test('admin page: the new-key form sets limits, refuses invalid ones on the page, and rotates a key', async () => {
    const cookie = await adminFormLogin(gw);
    const page = await getPage(gw, '/admin/keys', cookie);
    assert.equal(page.status, 200);
    assert.match(page.html, /name="limitRpm"/);
    const csrf = csrfOf(page.html);
    const bad = await postForm(gw, '/admin/keys', cookie, {
      _csrf: csrf,
      tenantId: 'acme',
      limitIps: '10.0.0.0/8\n300.1.1.1',
    });
    assert.equal(bad.status, 400);
    assert.match(await bad.text(), /not an IPv4 or IPv6 address/);
    const made = await postForm(gw, '/admin/keys', cookie, {
      _csrf: csrf,
      tenantId: 'acme',
      name: 'from the form',
      limitRpm: '7',
      limitQuotaUsd: '3.5',
      limitQuotaPeriod: 'daily',
      'limitScope-chat': 'on',
    });
    assert.equal(made.status, 201);
    const key = /<code class="secret" id="secret">([^<]+)<\/code>/.exec(await made.text())?.[1];
    assert.ok(key, 'the new key is shown');
    const res = await chat(gw, key, FAST);
    await res.text();
    assert.equal(res.headers.get('x-ratelimit-limit-requests'), '7');
    const listed = await admin.json<{ data: Array<{ id: string; name: string; limits: unknown }> }>(
      'GET',
      '/admin/api/keys?tenant=acme',
    );
    const record = listed.data.find((k) => k.name === 'from the form');
    assert.deepEqual(record?.limits, { rpm: 7, quota: { nanoUsd: 3_500_000_000, period: 'daily' }, scopes: ['chat'] });
    const rotated = await postForm(gw, `/admin/keys/${record!.id}/rotate`, cookie, { _csrf: csrf });
    assert.equal(rotated.status, 200);
    const html = await rotated.text();
    assert.match(html, /previous secret keeps working until/);
    const fresh = /<code class="secret" id="secret">([^<]+)<\/code>/.exec(html)?.[1];
    assert.ok(fresh && fresh !== key);
    for (const token of [key, fresh]) {
      const r = await chat(gw, token, FAST);
      await r.text();
      assert.equal(r.status, 200, 'both secrets work during the default 24 h grace');
    }
  });

  test('CLI: keys create with limits, keys set, keys rotate; invalid limits exit 1 with the reason', async () => {
    const configPath = join(gw.dataDir, 'cli.yaml');
    writeFileSync(
      configPath,
      `storage:\n  kind: sqlite\n  path: ${join(gw.dataDir, 'modro.db')}\nproviders:\n  - id: up\n    kind: openai\n    baseUrl: ${mock.url}\n    keys: [sk-x]\n    models:\n      - { name: gpt-4o-mini, qualityRank: 70 }\n`,
    );
    // Its own process, as an operator runs it beside a running gateway: in this process its synchronous SQLite
    // calls would wait (busy_timeout) on the gateway's open transactions, which cannot move while the thread waits.
    const cli = (args: string[]) => runCli([...args, '--config', configPath], {});
    // Independent of each other: two processes at once, not one after the other.
    const [bad, badModel] = await Promise.all([
      cli(['keys', 'create', '--tenant', 'acme', '--ips', '10.0.0.0/99']),
      cli(['keys', 'create', '--tenant', 'acme', '--models', 'nope/nope']),
    ]);
    assert.equal(bad.code, 1);
    assert.match(bad.output, /prefix length/);
    assert.equal(badModel.code, 1);
    assert.match(badModel.output, /Unknown models/);
    const created = await cli([
      'keys',
      'create',
      '--tenant',
      'acme',
      '--rpm',
      '2',
      '--quota-usd',
      '12.5',
      '--quota-period',
      'monthly',
      '--scopes',
      'chat,models',
      '--json',
    ]);
    assert.equal(created.code, 0, created.output);
    const record = JSON.parse(created.stdout) as { id: string; key: string; limits: Record<string, unknown> };
    assert.deepEqual(record.limits, {
      rpm: 2,
      quota: { nanoUsd: 12_500_000_000, period: 'monthly' },
      scopes: ['chat', 'models'],
    });
    const set = await cli(['keys', 'set', record.id, '--rpm', '', '--tpm', '5000', '--json']);
    assert.equal(set.code, 0, set.output);
    assert.deepEqual((JSON.parse(set.stdout) as { limits: unknown }).limits, {
      tpm: 5000,
      quota: { nanoUsd: 12_500_000_000, period: 'monthly' },
      scopes: ['chat', 'models'],
    });
    const list = await cli(['keys', 'list', '--tenant', 'acme']);
    const line = list.stdout.split('\n').find((l) => l.startsWith(record.id));
    assert.match(line ?? '', /5000 tpm · \$12\.50 monthly · chat\+models/);
    const rotated = await cli(['keys', 'rotate', record.id, '--grace-hours', '2', '--json']);
    assert.equal(rotated.code, 0, rotated.output);
    const after = JSON.parse(rotated.stdout) as { key: string; previousValidUntil: number };
    assert.notEqual(after.key, record.key);
    assert.ok(Math.abs(after.previousValidUntil - (Date.now() + 2 * 3_600_000)) < 60_000);
  });
});

describe('client address behind trusted proxies', () => {
  let mock: MockOpenAI;
  let gw: TestGateway;
  let admin: AdminClient;

  before(async () => {
    mock = await startMockOpenAI();
    gw = await startLimitsGateway(mock, { server: { trustedProxies: ['127.0.0.1/32', '::1/128'] } });
    admin = await adminClient(gw);
    await admin.json('POST', '/admin/api/tenants', { id: 'acme' });
  });
  after(async () => {
    await gw.close();
    await mock.close();
  });

  test('X-Forwarded-For from a trusted proxy names the client; the proxy’s own address does not pass', async () => {
    const { key } = await keyWith(admin, { ips: ['203.0.113.0/24'] });
    const through = await chat(gw, key, FAST, { 'x-forwarded-for': '203.0.113.7' });
    await through.text();
    assert.equal(through.status, 200);
    // A client-supplied entry to the left of a real one does not help: the nearest untrusted address counts.
    const spoofed = await chat(gw, key, FAST, { 'x-forwarded-for': '203.0.113.7, 198.51.100.9' });
    assert.equal((await errorOf(spoofed)).status, 403);
    const direct = await chat(gw, key, FAST);
    assert.equal((await errorOf(direct)).status, 403);
  });

  test('a bad trustedProxies entry is a configuration error', async () => {
    await assert.rejects(startLimitsGateway(mock, { server: { trustedProxies: ['10.0.0.0/40'] } }), /prefix length/);
  });
});
