import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { mockProvider, TEST_API_KEY, type TestGateway } from '../helpers/gateway.ts';
import { type MockAnthropic, startMockAnthropic } from '../mocks/anthropic.ts';
import { type MockOpenAI, startMockOpenAI } from '../mocks/openai-compatible.ts';
import { type AdminClient, adminClient, chat, createKey, startTenancyGateway } from '../tenancy/helpers.ts';

/**
 * The seeds' response contract (issue 21): `X-Model-Router-Model` and `X-Model-Router-Provider` on every answer
 * where a model was chosen, errors after routing included; none where no model was chosen; the preset
 * "Highest quality" accepted as `highest-quality`.
 */

const MODELS = [
  { name: 'gpt-4o-mini', qualityRank: 70, price: { input: 1, output: 2 } },
  { name: 'gpt-4.1', qualityRank: 85, price: { input: 2, output: 8 } },
];
const ask = (model: string) => ({ model, messages: [{ role: 'user', content: 'hi' }] });

describe('X-Model-Router-Model and -Provider on errors after routing', () => {
  let upstream: MockOpenAI;
  let anthropic: MockAnthropic;
  let gw: TestGateway;
  let admin: AdminClient;

  before(async () => {
    upstream = await startMockOpenAI();
    anthropic = await startMockAnthropic();
    gw = await startTenancyGateway({
      demo: { enabled: false },
      routing: { maxAttempts: 2 },
      providers: [mockProvider('up', upstream.url, MODELS)],
    });
    admin = await adminClient(gw);
  });
  after(async () => {
    await gw?.close();
    await upstream?.close();
    await anthropic?.close();
  });

  it('an upstream that fails every attempt: the last model and provider tried', async () => {
    upstream.faults.push({ kind: 'status', status: 500 }, { kind: 'status', status: 500 });
    // fast:quality has two candidates (gpt-4.1 then gpt-4o-mini); both fail.
    const res = await chat(gw, TEST_API_KEY, ask('fast:quality'));
    assert.ok(res.status >= 500, String(res.status));
    const body = (await res.json()) as { error: { code: string } };
    assert.equal(body.error.code, 'provider_unavailable');
    assert.equal(res.headers.get('x-model-router-provider'), 'up');
    assert.equal(res.headers.get('x-model-router-model'), 'up/gpt-4o-mini');
    assert.equal(res.headers.get('x-model-router-tier'), 'fast');
    assert.equal(res.headers.get('x-model-router-attempts'), '2');
  });

  it('an upstream refusal that is not retried (400): the model that refused it', async () => {
    upstream.faults.push({ kind: 'status', status: 400 });
    const res = await chat(gw, TEST_API_KEY, ask('up/gpt-4.1'));
    assert.equal(res.status, 400);
    assert.equal(res.headers.get('x-model-router-model'), 'up/gpt-4.1');
    assert.equal(res.headers.get('x-model-router-provider'), 'up');
  });

  it('a streaming request that fails before its first byte: the same headers', async () => {
    upstream.faults.push({ kind: 'status', status: 400 });
    const res = await chat(gw, TEST_API_KEY, { ...ask('up/gpt-4o-mini'), stream: true });
    assert.equal(res.status, 400);
    await res.text();
    assert.equal(res.headers.get('x-model-router-model'), 'up/gpt-4o-mini');
    assert.equal(res.headers.get('x-model-router-provider'), 'up');
  });

  it('a balance refused after routing (402, no upstream call): the model routing chose', async () => {
    await admin.json('POST', '/admin/api/tenants', { id: 'broke' });
    await admin.json('POST', '/admin/api/tenants/broke/account');
    const { key } = await createKey(admin, 'broke');
    const calls = upstream.requests.length;
    const res = await chat(gw, key, ask('up/gpt-4.1'));
    assert.equal(res.status, 402, await res.clone().text());
    assert.equal(upstream.requests.length, calls);
    assert.equal(res.headers.get('x-model-router-model'), 'up/gpt-4.1');
    assert.equal(res.headers.get('x-model-router-provider'), 'up');
  });

  it('no model chosen (an unknown model, a bad key): no model headers, the request id still', async () => {
    const unknown = await chat(gw, TEST_API_KEY, ask('no-such-model'));
    assert.equal(unknown.status, 404);
    assert.equal(unknown.headers.get('x-model-router-model'), null);
    assert.ok(unknown.headers.get('x-request-id'));
    const badKey = await chat(gw, 'mdr-wrong', ask('fast'));
    assert.equal(badKey.status, 401);
    assert.equal(badKey.headers.get('x-model-router-provider'), null);
  });

  it('Anthropic format errors carry them too', async () => {
    upstream.faults.push({ kind: 'status', status: 400 });
    const res = await fetch(`${gw.url}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': TEST_API_KEY, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({ model: 'up/gpt-4o-mini', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }),
    });
    assert.equal(res.status, 400);
    assert.equal(((await res.json()) as { type: string }).type, 'error');
    assert.equal(res.headers.get('x-model-router-model'), 'up/gpt-4o-mini');
  });
});

describe('the preset "Highest quality" as highest-quality', () => {
  let upstream: MockOpenAI;
  let gw: TestGateway;
  let admin: AdminClient;

  before(async () => {
    upstream = await startMockOpenAI();
    gw = await startTenancyGateway({ demo: { enabled: false }, providers: [mockProvider('up', upstream.url, MODELS)] });
    admin = await adminClient(gw);
  });
  after(async () => {
    await gw?.close();
    await upstream?.close();
  });

  it('in the model field, the same list as quality', async () => {
    const res = await chat(gw, TEST_API_KEY, ask('fast:highest-quality'));
    assert.equal(res.status, 200, await res.clone().text());
    assert.equal(res.headers.get('x-model-router-preset'), 'quality');
    assert.equal(res.headers.get('x-model-router-model'), 'up/gpt-4.1');
    const cheapest = await chat(gw, TEST_API_KEY, ask('fast:cheapest'));
    assert.equal(cheapest.headers.get('x-model-router-model'), 'up/gpt-4o-mini');
    const wrong = await chat(gw, TEST_API_KEY, ask('fast:best'));
    assert.equal(wrong.status, 400);
    assert.match(((await wrong.json()) as { error: { message: string } }).error.message, /highest-quality/);
  });

  it('as a tenant preset and as routing.defaultPreset', async () => {
    await admin.json('POST', '/admin/api/tenants', { id: 'hq' });
    const res = await admin.request('PATCH', '/admin/api/tenants/hq', { preset: 'highest-quality' });
    assert.equal(res.status, 200, await res.text());
    const { key } = await createKey(admin, 'hq');
    const routed = await chat(gw, key, ask('fast'));
    assert.equal(routed.headers.get('x-model-router-preset'), 'quality');
    const { parseConfig } = await import('../../src/config/load.ts');
    assert.equal(parseConfig({ routing: { defaultPreset: 'highest-quality' } }, {}).routing.defaultPreset, 'quality');
  });
});
