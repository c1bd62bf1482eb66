import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import type OpenAI from 'openai';
import { startGateway, TEST_API_KEY, type TestGateway } from '../helpers/gateway.ts';
import { validateChatCompletion, validateChatCompletionChunk } from '../helpers/openai-schema.ts';
import { startMockAnthropic } from '../mocks/anthropic.ts';
import { MOCK_BEDROCK_CREDENTIALS, startMockBedrock } from '../mocks/bedrock.ts';
import { MOCK_GEMINI_KEY, startMockGemini } from '../mocks/gemini.ts';
import { MOCK_API_KEY, startMockOpenAI } from '../mocks/openai-compatible.ts';

/**
 * The same requests through every provider protocol: a client speaking OpenAI's format (or Anthropic's)
 * must get the same behaviour whether the tier lands on an OpenAI-compatible model, Claude, Gemini or a
 * Bedrock model. Each provider is a protocol-faithful mock; every OpenAI-format answer is validated against
 * OpenAI's own schemas.
 */

// A 1x1 PNG: real image bytes (Bedrock checks them).
const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';
// Every mock's tool trigger in one prompt: OpenAI's mock calls mentioned tools, Anthropic's "use tools",
// Gemini's [parallel], Bedrock's [[parallel]].
const TOOL_PROMPT = 'Please use tools get_weather and get_time for Paris [parallel] [[parallel]]';

const TOOLS: OpenAI.Chat.Completions.ChatCompletionTool[] = [
  {
    type: 'function',
    function: {
      name: 'get_weather',
      description: 'Weather for a city',
      parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
    },
  },
  {
    type: 'function',
    function: {
      name: 'get_time',
      description: 'Local time',
      parameters: { type: 'object', properties: { city: { type: 'string' } } },
    },
  },
];

interface Upstream {
  name: string;
  provider: Record<string, unknown>;
  /** Where the stop sequences landed in the upstream request. */
  stopOf(): unknown;
  close(): Promise<void>;
}

const FULL = { tools: true, vision: true, jsonSchema: true, streaming: true };

async function upstreams(): Promise<Upstream[]> {
  const openai = await startMockOpenAI();
  const anthropic = await startMockAnthropic();
  const gemini = await startMockGemini();
  const bedrock = await startMockBedrock();
  const model = (name: string) => [
    { name, qualityRank: 70, price: { input: 1, output: 2 }, contextWindow: 200_000, capabilities: FULL },
  ];
  return [
    {
      name: 'openai-compatible',
      provider: {
        id: 'openai',
        kind: 'openai',
        baseUrl: openai.url,
        keys: [MOCK_API_KEY],
        models: model('gpt-4o-mini'),
      },
      stopOf: () => (openai.requests.at(-1)?.body as Record<string, unknown> | undefined)?.['stop'],
      close: () => openai.close(),
    },
    {
      name: 'anthropic',
      provider: {
        id: 'anthropic',
        kind: 'anthropic',
        baseUrl: anthropic.url,
        keys: [anthropic.apiKey],
        models: model('claude-sonnet-4-5'),
      },
      stopOf: () => anthropic.requests.at(-1)?.body?.['stop_sequences'],
      close: () => anthropic.close(),
    },
    {
      name: 'gemini',
      provider: {
        id: 'gemini',
        kind: 'gemini',
        baseUrl: gemini.baseUrl,
        keys: [MOCK_GEMINI_KEY],
        models: model('gemini-2.5-flash'),
      },
      stopOf: () => (gemini.requests.at(-1)?.body?.['generationConfig'] as Record<string, unknown>)?.['stopSequences'],
      close: () => gemini.close(),
    },
    {
      name: 'bedrock',
      provider: {
        id: 'bedrock',
        kind: 'bedrock',
        baseUrl: bedrock.url,
        keys: [
          { key: MOCK_BEDROCK_CREDENTIALS.accessKeyId, secretAccessKey: MOCK_BEDROCK_CREDENTIALS.secretAccessKey },
        ],
        options: { region: bedrock.region },
        models: model('anthropic.claude-sonnet-4-5-20250929-v1:0'),
      },
      stopOf: () => (bedrock.requests.at(-1)?.body?.['inferenceConfig'] as Record<string, unknown>)?.['stopSequences'],
      close: () => bedrock.close(),
    },
  ];
}

function assertValid(body: unknown) {
  const check = validateChatCompletion(body);
  assert.ok(check.ok, check.errors);
}

async function collect(stream: AsyncIterable<OpenAI.Chat.Completions.ChatCompletionChunk>) {
  let text = '';
  let finish: string | null = null;
  let usage: (OpenAI.CompletionUsage & { cost?: number }) | undefined;
  for await (const chunk of stream) {
    const check = validateChatCompletionChunk(chunk);
    assert.ok(check.ok, check.errors);
    text += chunk.choices[0]?.delta.content ?? '';
    finish = chunk.choices[0]?.finish_reason ?? finish;
    if (chunk.usage) usage = chunk.usage;
  }
  return { text, finish, usage };
}

const all = await upstreams();

for (const upstream of all) {
  describe(`OpenAI format through ${upstream.name}`, () => {
    let gw: TestGateway;
    before(async () => {
      gw = await startGateway({ providers: [upstream.provider as never] });
    });
    after(async () => {
      await gw.close();
    });

    const ask = (body: Omit<OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming, 'model'>) =>
      gw.client.chat.completions.create({ model: 'fast', ...body });

    test('plain, system and multi-turn', async () => {
      const plain = await ask({ messages: [{ role: 'user', content: 'Hello there' }] });
      assertValid(plain);
      assert.ok(plain.choices[0]!.message.content);
      assert.equal(plain.choices[0]!.finish_reason, 'stop');
      assert.ok(plain.usage!.prompt_tokens > 0 && plain.usage!.completion_tokens > 0);
      const multi = await ask({
        messages: [
          { role: 'system', content: 'You are terse.' },
          { role: 'user', content: 'Hi' },
          { role: 'assistant', content: 'Hello.' },
          { role: 'user', content: 'How are you?' },
        ],
      });
      assertValid(multi);
      assert.ok(multi.choices[0]!.message.content);
    });

    test('parallel tool calls, then tool results', async () => {
      const first = await ask({ messages: [{ role: 'user', content: TOOL_PROMPT }], tools: TOOLS });
      assertValid(first);
      const calls = first.choices[0]!.message.tool_calls ?? [];
      assert.equal(first.choices[0]!.finish_reason, 'tool_calls');
      assert.ok(calls.length >= 2, `expected parallel calls, got ${calls.length}`);
      for (const call of calls) {
        assert.equal(call.type, 'function');
        if (call.type === 'function') assert.equal(typeof JSON.parse(call.function.arguments), 'object');
      }
      const second = await ask({
        tools: TOOLS,
        messages: [
          { role: 'user', content: TOOL_PROMPT },
          first.choices[0]!.message,
          ...calls.map((call) => ({ role: 'tool' as const, tool_call_id: call.id, content: '{"result": "sunny"}' })),
        ],
      });
      assertValid(second);
      assert.equal(second.choices[0]!.finish_reason, 'stop');
      assert.ok(second.choices[0]!.message.content);
    });

    test('images, json_schema output and stop sequences', async () => {
      const image = await ask({
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'Describe this image' },
              { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG}` } },
            ],
          },
        ],
      });
      assertValid(image);
      const json = await ask({
        messages: [{ role: 'user', content: 'Give me a city as JSON' }],
        response_format: {
          type: 'json_schema',
          json_schema: {
            name: 'city',
            schema: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] },
          },
        },
      });
      assertValid(json);
      assert.equal(typeof JSON.parse(json.choices[0]!.message.content!), 'object');
      const stopped = await ask({ messages: [{ role: 'user', content: 'Count to ten' }], stop: ['seven'] });
      assertValid(stopped);
      assert.deepEqual(upstream.stopOf(), ['seven']);
    });

    test('streaming: text with a priced usage chunk, and tool calls through the SDK helper', async () => {
      const streamed = await collect(
        await gw.client.chat.completions.create({
          model: 'fast',
          stream: true,
          stream_options: { include_usage: true },
          messages: [
            { role: 'system', content: 'Be brief.' },
            { role: 'user', content: 'Tell me a story' },
          ],
        }),
      );
      assert.ok(streamed.text.length > 0);
      assert.equal(streamed.finish, 'stop');
      assert.ok(streamed.usage && streamed.usage.cost! > 0 && streamed.usage.completion_tokens > 0);
      const final = await gw.client.chat.completions
        .stream({ model: 'fast', messages: [{ role: 'user', content: TOOL_PROMPT }], tools: TOOLS })
        .finalChatCompletion();
      const calls = final.choices[0]!.message.tool_calls ?? [];
      assert.ok(calls.length >= 2);
      for (const call of calls)
        if (call.type === 'function') assert.equal(typeof JSON.parse(call.function.arguments), 'object');
      assert.equal(final.choices[0]!.finish_reason, 'tool_calls');
    });
  });

  describe(`Anthropic format (/v1/messages) through ${upstream.name}`, () => {
    let gw: TestGateway;
    let client: Anthropic;
    before(async () => {
      gw = await startGateway({ providers: [upstream.provider as never] });
      client = new Anthropic({ baseURL: gw.url, apiKey: TEST_API_KEY, maxRetries: 0 });
    });
    after(async () => {
      await gw.close();
    });

    const tools: Anthropic.Tool[] = TOOLS.map((t) => {
      const fn = (t as OpenAI.Chat.Completions.ChatCompletionFunctionTool).function;
      return {
        name: fn.name,
        description: fn.description ?? '',
        input_schema: fn.parameters as Anthropic.Tool.InputSchema,
      };
    });

    test('plain with system, routing headers and usage', async () => {
      const { data, response } = await client.messages
        .create({ model: 'fast', max_tokens: 256, system: 'Be brief.', messages: [{ role: 'user', content: 'Hello' }] })
        .withResponse();
      assert.equal(data.type, 'message');
      assert.equal(data.role, 'assistant');
      assert.ok(data.content.some((block) => block.type === 'text' && block.text.length > 0));
      assert.equal(data.stop_reason, 'end_turn');
      assert.ok(data.usage.input_tokens > 0 && data.usage.output_tokens > 0);
      assert.equal(response.headers.get('x-model-router-provider'), (upstream.provider as { id: string }).id);
      assert.ok(Number(response.headers.get('x-model-router-cost')) > 0);
    });

    test('tools and tool results', async () => {
      const first = await client.messages.create({
        model: 'fast',
        max_tokens: 256,
        tools,
        messages: [{ role: 'user', content: TOOL_PROMPT }],
      });
      assert.equal(first.stop_reason, 'tool_use');
      const uses = first.content.filter((b): b is Anthropic.ToolUseBlock => b.type === 'tool_use');
      assert.ok(uses.length >= 2);
      const second = await client.messages.create({
        model: 'fast',
        max_tokens: 256,
        tools,
        messages: [
          { role: 'user', content: TOOL_PROMPT },
          { role: 'assistant', content: first.content },
          {
            role: 'user',
            content: uses.map((use) => ({ type: 'tool_result' as const, tool_use_id: use.id, content: 'sunny' })),
          },
        ],
      });
      assert.equal(second.stop_reason, 'end_turn');
    });

    test('streaming text and tool calls', async () => {
      const text = await client.messages
        .stream({ model: 'fast', max_tokens: 256, messages: [{ role: 'user', content: 'Tell me a story' }] })
        .finalMessage();
      assert.ok(text.content.some((b) => b.type === 'text' && b.text.length > 0));
      assert.ok(text.usage.output_tokens > 0);
      const withTools = await client.messages
        .stream({ model: 'fast', max_tokens: 256, tools, messages: [{ role: 'user', content: TOOL_PROMPT }] })
        .finalMessage();
      const uses = withTools.content.filter((b) => b.type === 'tool_use');
      assert.ok(uses.length >= 2);
      for (const use of uses) if (use.type === 'tool_use') assert.equal(typeof use.input, 'object');
      assert.equal(withTools.stop_reason, 'tool_use');
    });

    test('errors come in Anthropic’s envelope', async () => {
      await assert.rejects(
        client.messages.create({ model: 'no-such-model', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] }),
        (err: unknown) => {
          assert.ok(err instanceof Anthropic.NotFoundError);
          return true;
        },
      );
    });
  });
}

describe('failover across protocols inside one tier', () => {
  let gw: TestGateway;
  let anthropic: Awaited<ReturnType<typeof startMockAnthropic>>;
  let gemini: Awaited<ReturnType<typeof startMockGemini>>;
  before(async () => {
    anthropic = await startMockAnthropic();
    gemini = await startMockGemini();
    const model = (name: string, price: number) => [
      { name, qualityRank: 70, price: { input: price, output: price }, capabilities: FULL },
    ];
    gw = await startGateway({
      providers: [
        {
          id: 'anthropic',
          kind: 'anthropic',
          baseUrl: anthropic.url,
          keys: [anthropic.apiKey],
          models: model('claude-haiku-4-5', 0.5),
        },
        {
          id: 'gemini',
          kind: 'gemini',
          baseUrl: gemini.baseUrl,
          keys: [MOCK_GEMINI_KEY],
          models: model('gemini-2.5-flash', 1),
        },
      ],
    });
  });
  after(async () => {
    await gw.close();
    await anthropic.close();
    await gemini.close();
  });

  test('Anthropic overloaded: Gemini answers, non-streaming and streaming, OpenAI and Anthropic inbound', async () => {
    anthropic.faults.push({ kind: 'status', status: 529 });
    const { data, response } = await gw.client.chat.completions
      .create({ model: 'fast', messages: [{ role: 'user', content: 'hello' }] })
      .withResponse();
    assert.equal(response.headers.get('x-model-router-provider'), 'gemini');
    assertValid(data);

    anthropic.faults.push({ kind: 'reset' });
    const res = await gw.post('/v1/chat/completions', {
      model: 'fast',
      stream: true,
      messages: [{ role: 'user', content: 'hi' }],
    });
    assert.equal(res.headers.get('x-model-router-provider'), 'gemini');
    assert.match(await res.text(), /data: \[DONE\]\n\n$/);

    gw.runtime.health.reset();
    anthropic.faults.push({ kind: 'status', status: 529 });
    const client = new Anthropic({ baseURL: gw.url, apiKey: TEST_API_KEY, maxRetries: 0 });
    const message = await client.messages
      .stream({ model: 'fast', max_tokens: 100, messages: [{ role: 'user', content: 'hello' }] })
      .finalMessage();
    assert.ok(message.content.some((b) => b.type === 'text'));
    assert.match(message.model, /gemini/);
  });
});

after(async () => {
  for (const upstream of all) await upstream.close();
});
