import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { mockProvider, TEST_API_KEY, type TestGateway } from '../helpers/gateway.ts';
import { MOCK_API_KEY, type MockOpenAI, startMockOpenAI } from '../mocks/openai-compatible.ts';
import { type AdminClient, callInfo, chat } from '../tenancy/helpers.ts';
import { mockChannel, startChannelGateway } from './helpers.ts';

const KEY = 'sk-channel-chep-0123456789abcdefghijklmnop';

/** A cheaper model launched on a channel joins its tier's candidates and takes `fast:cheapest` at once. */
describe('a cheaper channel model takes over its tier without a restart', () => {
  let upstream: MockOpenAI;
  let gw: TestGateway;
  let admin: AdminClient;
  const fastCheapest = async () =>
    callInfo(await chat(gw, TEST_API_KEY, { model: 'fast:cheapest', messages: [{ role: 'user', content: 'hi' }] }));
  const model = (name: string, input: number) => ({
    name,
    price: { input, output: input * 2 },
    qualityRank: 70,
    contextWindow: 128_000,
  });

  before(async () => {
    upstream = await startMockOpenAI({ apiKeys: [MOCK_API_KEY, KEY] });
    ({ gw, admin } = await startChannelGateway({
      providers: [
        mockProvider('open', upstream.url, [{ name: 'gpt-4o-mini', qualityRank: 70, price: { input: 5, output: 10 } }]),
      ],
    }));
  });
  after(async () => {
    await gw?.close();
    await upstream?.close();
  });

  it('a new channel, then a new model on it, each routes the next request', async () => {
    assert.equal((await fastCheapest()).model, 'open/gpt-4o-mini');
    const res = await admin.request('POST', '/admin/api/channels', {
      ...mockChannel('launch', upstream.url, [KEY]),
      models: [model('gpt-4.1-nano', 0.5)],
    });
    assert.equal(res.status, 201, await res.text());
    assert.equal((await fastCheapest()).model, 'launch/gpt-4.1-nano');
    await admin.json('PATCH', '/admin/api/channels/launch', {
      models: [model('gpt-4.1-nano', 0.5), model('gpt-9-nano', 0.01)],
    });
    const info = await fastCheapest();
    assert.equal(info.status, 200, info.body);
    assert.equal(info.model, 'launch/gpt-9-nano');
    const sent = upstream.requests.filter((r) => r.path.includes('/chat/completions')).at(-1)!;
    assert.equal((sent.body as { model: string }).model, 'gpt-9-nano');
  });
});
