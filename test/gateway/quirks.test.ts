import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { mockProvider, startGateway, type TestGateway } from '../helpers/gateway.ts';
import { type MockOpenAI, startMockOpenAI } from '../mocks/openai-compatible.ts';

/** The OpenAI-compatible family's quirk table, checked against mocks that reject what the real providers reject. */
describe('OpenAI-compatible quirks', () => {
  let groq: MockOpenAI;
  let mistral: MockOpenAI;
  let azure: MockOpenAI;
  let openai: MockOpenAI;
  let gw: TestGateway;

  before(async () => {
    groq = await startMockOpenAI({ flavour: 'groq' });
    mistral = await startMockOpenAI({ flavour: 'mistral' });
    azure = await startMockOpenAI();
    openai = await startMockOpenAI();
    const m = (name: string) => [{ name, qualityRank: 70 }];
    gw = await startGateway({
      providers: [
        mockProvider('groq', groq.url, m('llama'), { kind: 'groq' }),
        mockProvider('mistral', mistral.url, m('mistral-small'), { kind: 'mistral' }),
        mockProvider('azure', azure.origin, m('my-deployment'), {
          kind: 'azure',
          options: { apiVersion: '2024-10-21' },
        }),
        mockProvider('openai', openai.url, m('o4-mini')),
      ],
    });
  });
  after(async () => {
    await gw.close();
    for (const mock of [groq, mistral, azure, openai]) await mock.close();
  });

  const messages = [{ role: 'user' as const, content: 'hi', name: 'alice' }];

  test('groq: messages[].name is dropped, usage read from the stream', async () => {
    const stream = await gw.client.chat.completions.create({
      model: 'groq/llama',
      messages,
      stream: true,
      stream_options: { include_usage: true },
    });
    let usage: unknown;
    for await (const chunk of stream) if (chunk.usage) usage = chunk.usage;
    assert.ok(usage);
    const sent = groq.requests.at(-1)!.body as { messages: Array<Record<string, unknown>> };
    assert.equal(sent.messages[0]!['name'], undefined);
  });

  test('mistral: seed becomes random_seed, stream_options is not sent, usage still metered', async () => {
    const res = await gw.post('/v1/chat/completions', {
      model: 'mistral/mistral-small',
      messages: [{ role: 'user', content: 'hi' }],
      seed: 3,
      stream: true,
      stream_options: { include_usage: true },
    });
    const text = await res.text();
    assert.match(text, /"cost":/);
    const sent = mistral.requests.at(-1)!.body as Record<string, unknown>;
    assert.equal(sent['random_seed'], 3);
    assert.equal(sent['seed'], undefined);
    assert.equal(sent['stream_options'], undefined);
  });

  test('azure: deployment URL, api-version, api-key header', async () => {
    const data = await gw.client.chat.completions.create({
      model: 'azure/my-deployment',
      messages: [{ role: 'user', content: 'hi' }],
    });
    assert.ok(data.choices[0]!.message.content);
    const req = azure.requests.at(-1)!;
    assert.equal(req.path, '/openai/deployments/my-deployment/chat/completions?api-version=2024-10-21');
    assert.ok(req.headers['api-key']);
    assert.equal(req.headers['authorization'], undefined);
  });

  test('openai reasoning models: max_tokens becomes max_completion_tokens, sampling settings are dropped', async () => {
    await gw.client.chat.completions.create({
      model: 'openai/o4-mini',
      messages: [{ role: 'user', content: 'hi' }],
      max_tokens: 100,
      temperature: 0.3,
    });
    const sent = openai.requests.at(-1)!.body as Record<string, unknown>;
    assert.equal(sent['max_completion_tokens'], 100);
    assert.equal(sent['max_tokens'], undefined);
    assert.equal(sent['temperature'], undefined);
  });
});
