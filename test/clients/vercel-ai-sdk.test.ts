import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createOpenAI } from '@ai-sdk/openai';
import { embed, embedMany, generateText, jsonSchema, streamText, tool } from 'ai';
import { mockProvider, startGateway, type TestGateway } from '../helpers/gateway.ts';
import { type MockOpenAI, startMockOpenAI } from '../mocks/openai-compatible.ts';

/**
 * The Vercel AI SDK pointed at Modro's `/v1` as a new user would: `openai('fast')` is the SDK's default model,
 * which calls `POST /v1/responses`; `openai.chat('fast')` calls chat completions; `openai.embedding(…)` calls
 * `POST /v1/embeddings`. Each must work with no option changed. The upstream is a server of the OpenAI-compatible
 * family without a Responses API, so the Responses calls are translated (pass-through: openai-responses.test.ts).
 */
/** A tool the SDK runs itself: it records each call's input. */
function weatherTool(calls: unknown[]) {
  return tool({
    description: 'Weather for a city',
    inputSchema: jsonSchema<{ city: string }>({
      type: 'object',
      properties: { city: { type: 'string' } },
      required: ['city'],
    }),
    execute: async (input) => {
      calls.push(input);
      return { weather: 'sunny' };
    },
  });
}

describe('Vercel AI SDK against the gateway', () => {
  let upstream: MockOpenAI;
  let gw: TestGateway;
  let openai: ReturnType<typeof createOpenAI>;

  before(async () => {
    upstream = await startMockOpenAI();
    gw = await startGateway({
      providers: [
        mockProvider(
          'up',
          upstream.url,
          [
            { name: 'gpt-4o-mini', qualityRank: 70 },
            { name: 'text-embedding-3-small', qualityRank: 50, mode: 'embedding', price: { input: 0.02, output: 0 } },
          ] as never,
          { kind: 'openai-compatible' },
        ),
      ],
    });
    openai = createOpenAI({ baseURL: gw.baseURL, apiKey: 'mdr-test-key-0123456789' });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  test('generateText with the default model (the Responses API)', async () => {
    const result = await generateText({ model: openai('fast'), prompt: 'Hello there' });
    assert.ok(result.text.length > 0);
    assert.equal(result.finishReason, 'stop');
    assert.ok((result.usage.inputTokens ?? 0) > 0 && (result.usage.outputTokens ?? 0) > 0);
    assert.equal(upstream.requests.at(-1)!.path, '/v1/chat/completions');
  });

  test('streamText with the default model, with and without a tool call the SDK runs; generateText with a tool', async () => {
    const stream = streamText({ model: openai('fast'), prompt: 'Hello there' });
    let text = '';
    for await (const delta of stream.textStream) text += delta;
    assert.ok(text.length > 0);
    assert.equal(await stream.finishReason, 'stop');

    const calls: unknown[] = [];
    const streamed = streamText({
      model: openai('fast'),
      prompt: 'Please use tools get_weather for Paris',
      tools: { get_weather: weatherTool(calls) },
    });
    const streamedCalls = await streamed.toolCalls;
    assert.equal(streamedCalls.length, 1);
    assert.equal(streamedCalls[0]!.toolName, 'get_weather');
    assert.equal((await streamed.toolResults).length, 1);
    assert.equal(calls.length, 1, 'the SDK ran the streamed tool call');
    const withTool = await generateText({
      model: openai('fast'),
      prompt: 'Please use tools get_weather for Paris',
      tools: { get_weather: weatherTool(calls) },
    });
    assert.equal(calls.length, 2, JSON.stringify(withTool.steps.map((s) => s.finishReason)));
    assert.equal(typeof calls[1], 'object');
    assert.equal(withTool.toolResults.length, 1);
  });

  test('chat completions through openai.chat, and embeddings through openai.embedding', async () => {
    const chat = await generateText({ model: openai.chat('fast'), prompt: 'Hello there' });
    assert.ok(chat.text.length > 0);
    const one = await embed({ model: openai.embedding('text-embedding-3-small'), value: 'sunny day' });
    assert.ok(one.embedding.length > 0 && one.embedding.every(Number.isFinite));
    const many = await embedMany({
      model: openai.embedding('text-embedding-3-small'),
      values: ['sunny day', 'rainy night'],
    });
    assert.equal(many.embeddings.length, 2);
    assert.equal(upstream.requests.at(-1)!.path, '/v1/embeddings');
  });
});
