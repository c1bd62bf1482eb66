import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { mockProvider, type TestGateway } from '../helpers/gateway.ts';
import { type MockOpenAI, startMockOpenAI } from '../mocks/openai-compatible.ts';
import { type AdminClient, adminClient, startTenancyGateway } from '../tenancy/helpers.ts';

/**
 * The key's limits hold on every endpoint, not only chat completions: `/v1/responses` counts against the
 * same rates under the `chat` scope, `/v1/embeddings` has its own `embeddings` scope and the same rates,
 * token budget and quota, all before any upstream call.
 */
describe('per-key limits on /v1/responses and /v1/embeddings', () => {
  let mock: MockOpenAI;
  let gw: TestGateway;
  let admin: AdminClient;

  before(async () => {
    mock = await startMockOpenAI();
    gw = await startTenancyGateway({
      demo: { enabled: false },
      providers: [
        mockProvider(
          'up',
          mock.url,
          [
            { name: 'gpt-4o-mini', qualityRank: 70, tiers: ['fast'] },
            { name: 'text-embedding-3-small', qualityRank: 50, mode: 'embedding', price: { input: 0.02, output: 0 } },
          ] as never,
          { kind: 'openai-compatible' },
        ),
      ],
    });
    admin = await adminClient(gw);
    await admin.json('POST', '/admin/api/tenants', { id: 'acme' });
  });
  after(async () => {
    await gw.close();
    await mock.close();
  });

  const keyWith = (limits: Record<string, unknown>) =>
    admin.json<{ id: string; key: string }>('POST', '/admin/api/keys', { tenantId: 'acme', limits });
  const upstreamCalls = () => mock.requests.length;

  test('responses: the chat scope grants it, and its requests count against rpm', async () => {
    const { key } = await keyWith({ rpm: 2, scopes: ['chat'] });
    const client = new OpenAI({ baseURL: gw.baseURL, apiKey: key, maxRetries: 0 });
    const first = await client.responses.create({ model: 'fast', input: 'Hello' }).withResponse();
    assert.equal(first.response.headers.get('x-ratelimit-remaining-requests'), '1');
    await client.responses.create({ model: 'fast', input: 'Hello' });
    const before = upstreamCalls();
    const refused = await client.responses.create({ model: 'fast', input: 'Hello' }).then(
      () => assert.fail('the third request of the minute was served'),
      (err: unknown) => err,
    );
    assert.ok(refused instanceof OpenAI.RateLimitError, String(refused));
    assert.equal(upstreamCalls(), before);
    await assert.rejects(
      client.embeddings.create({ model: 'text-embedding-3-small', input: 'x' }),
      (err: unknown) => err instanceof OpenAI.PermissionDeniedError,
    );
  });

  test('embeddings: their own scope, rpm and the key model list', async () => {
    const { key } = await keyWith({ rpm: 1, scopes: ['embeddings'], models: ['up/text-embedding-3-small'] });
    const client = new OpenAI({ baseURL: gw.baseURL, apiKey: key, maxRetries: 0 });
    const ok = await client.embeddings.create({ model: 'text-embedding-3-small', input: ['a', 'b'] });
    assert.equal(ok.data.length, 2);
    const before = upstreamCalls();
    await assert.rejects(
      client.embeddings.create({ model: 'text-embedding-3-small', input: 'again' }),
      (err: unknown) => err instanceof OpenAI.RateLimitError,
    );
    assert.equal(upstreamCalls(), before, 'refused before the upstream');
    await assert.rejects(
      client.chat.completions.create({ model: 'fast', messages: [{ role: 'user', content: 'x' }] }),
      (err: unknown) => err instanceof OpenAI.PermissionDeniedError,
    );
  });

  test('embeddings: a model outside the key model list is refused with 403', async () => {
    const { key } = await keyWith({ models: ['up/gpt-4o-mini'] });
    const client = new OpenAI({ baseURL: gw.baseURL, apiKey: key, maxRetries: 0 });
    await assert.rejects(
      client.embeddings.create({ model: 'text-embedding-3-small', input: 'x' }),
      (err: unknown) => err instanceof OpenAI.PermissionDeniedError,
    );
  });
});
