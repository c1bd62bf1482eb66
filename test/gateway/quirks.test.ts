import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { PROVIDER_DESCRIPTORS } from '../../src/providers/kinds/index.ts';
import type { UnsupportedFeature } from '../../src/providers/openai-compatible/quirks.ts';
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

/**
 * Every OpenAI-compatible kind, from its descriptor: one request per kind through the gateway shows its
 * exclusions and renames on the wire, and a request using a feature it lacks is refused before any upstream
 * byte. A new descriptor is covered without a new test; a field a new descriptor drops needs a probe value here.
 */
describe('OpenAI-compatible quirks of every kind, on the wire', () => {
  const family = PROVIDER_DESCRIPTORS.flatMap((d) => (d.wire === 'openai-compatible' ? [d] : []));
  let mock: MockOpenAI;
  let gw: TestGateway;

  before(async () => {
    mock = await startMockOpenAI();
    gw = await startGateway({
      providers: family.map((d) =>
        mockProvider(
          d.id,
          d.quirks.url === 'azure-deployment' ? mock.origin : mock.url,
          [{ name: `${d.id}-m`, qualityRank: 70 }],
          {
            kind: d.id,
          },
        ),
      ),
    });
  });
  after(async () => {
    await gw.close();
    await mock.close();
  });

  const tools = [{ type: 'function', function: { name: 'f', parameters: { type: 'object', properties: {} } } }];
  /** A value for every field some kind drops or renames. */
  const probeValues: Record<string, unknown> = {
    frequency_penalty: 0.5,
    presence_penalty: 0.25,
    parallel_tool_calls: false,
    service_tier: 'auto',
    user: 'user-1',
    store: false,
    metadata: { team: 'a' },
    seed: 7,
  };
  const probe: Record<string, unknown> = {};
  for (const d of family) {
    for (const field of [...d.quirks.dropped, ...Object.keys(d.quirks.renamed)]) {
      assert.ok(field in probeValues, `add a probe value for ${field} (${d.id})`);
      probe[field] = probeValues[field];
    }
  }
  const feature: Record<UnsupportedFeature, Record<string, unknown>> = {
    logprobs: { logprobs: true },
    n: { n: 2 },
    logit_bias: { logit_bias: { '50256': -100 } },
    tool_choice_named: { tools, tool_choice: { type: 'function', function: { name: 'f' } } },
  };
  const sentFor = (kind: string, from: number) =>
    mock.requests.slice(from).filter((r) => (r.body as { model?: string } | undefined)?.model === `${kind}-m`);

  for (const d of family) {
    test(`${d.id}: dropped, renamed and message-name quirks, stream_options, unsupported features`, async () => {
      const from = mock.requests.length;
      const messages = [{ role: 'user', content: 'hi', name: 'alice' }];
      const res = await gw.post('/v1/chat/completions', { model: `${d.id}/${d.id}-m`, messages, tools, ...probe });
      assert.equal(res.status, 200, await res.text());
      const [sent] = sentFor(d.id, from).map((r) => r.body as Record<string, unknown>);
      assert.ok(sent, 'the request reached the upstream');
      for (const [field, value] of Object.entries(probe)) {
        const renamedTo = d.quirks.renamed[field];
        if (d.quirks.dropped.includes(field)) assert.equal(sent[field], undefined, `${field} dropped`);
        else if (renamedTo) {
          assert.equal(sent[field], undefined, `${field} renamed away`);
          assert.deepEqual(sent[renamedTo], value, `${field} sent as ${renamedTo}`);
        } else assert.deepEqual(sent[field], value, `${field} kept`);
      }
      const name = (sent['messages'] as Array<Record<string, unknown>>)[0]!['name'];
      assert.equal(name, d.quirks.dropsMessageName ? undefined : 'alice', 'messages[].name');

      const streamed = await gw.post('/v1/chat/completions', { model: `${d.id}/${d.id}-m`, messages, stream: true });
      assert.equal(streamed.status, 200);
      await streamed.text();
      const streamBody = sentFor(d.id, from).at(-1)!.body as Record<string, unknown>;
      assert.deepEqual(
        streamBody['stream_options'],
        d.quirks.streamOptions ? { include_usage: true } : undefined,
        'stream_options',
      );

      for (const [name, fields] of Object.entries(feature) as Array<[UnsupportedFeature, Record<string, unknown>]>) {
        const before = sentFor(d.id, from).length;
        const answer = await gw.post('/v1/chat/completions', { model: `${d.id}/${d.id}-m`, messages, ...fields });
        const text = await answer.text();
        if (d.quirks.unsupported.includes(name)) {
          assert.equal(answer.status, 400, `${name}: ${text}`);
          assert.equal((JSON.parse(text) as { error: { code: string } }).error.code, 'invalid_request');
          assert.equal(sentFor(d.id, from).length, before, `${name}: nothing sent upstream`);
        } else {
          assert.equal(answer.status, 200, `${name}: ${text}`);
          assert.equal(sentFor(d.id, from).length, before + 1, `${name}: sent upstream`);
        }
      }
    });
  }
});
