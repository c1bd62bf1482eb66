import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { mockProvider, readSSEData, startGateway, type TestGateway } from '../helpers/gateway.ts';
import { validateChatCompletion, validateChatCompletionChunk, validateModelList } from '../helpers/openai-schema.ts';
import { type MockOpenAI, startMockOpenAI } from '../mocks/openai-compatible.ts';

/**
 * The official `openai` SDK against the gateway, with an OpenAI-compatible mock upstream: every field a
 * client sends reaches the provider unchanged (only `model` is swapped, usage is always requested), and
 * every answer is OpenAI's format, validated against OpenAI's own schemas.
 */
describe('OpenAI-compatible pass-through', () => {
  let mock: MockOpenAI;
  let gw: TestGateway;

  before(async () => {
    mock = await startMockOpenAI();
    gw = await startGateway({
      providers: [
        mockProvider('upstream', mock.url, [
          { name: 'gpt-4.1-nano', qualityRank: 45, price: { input: 0.1, output: 0.4 } },
          { name: 'gpt-4o-mini', qualityRank: 70, price: { input: 0.15, output: 0.6 } },
          { name: 'gpt-4o', qualityRank: 88, price: { input: 2.5, output: 10 } },
        ]),
      ],
    });
  });
  after(async () => {
    await gw.close();
    await mock.close();
  });

  test('non-streaming: answer, routing headers, exact cost, schema-valid body', async () => {
    mock.reset();
    const { data, response } = await gw.client.chat.completions
      .create({ model: 'fast', messages: [{ role: 'user', content: 'Say hi' }], temperature: 0.2, seed: 7 })
      .withResponse();
    assert.equal(response.headers.get('x-model-router-model'), 'upstream/gpt-4o-mini');
    assert.equal(response.headers.get('x-model-router-provider'), 'upstream');
    assert.equal(response.headers.get('x-model-router-tier'), 'fast');
    assert.match(response.headers.get('x-request-id') ?? '', /^req_[0-9a-f]{32}$/);
    const usage = data.usage!;
    const expectedNano = Math.round((usage.prompt_tokens * 0.15 + usage.completion_tokens * 0.6) * 1000);
    assert.equal(response.headers.get('x-model-router-cost'), (expectedNano / 1e9).toFixed(9));
    assert.match(data.choices[0]!.message.content ?? '', /Say hi/);
    const check = validateChatCompletion(data);
    assert.ok(check.ok, check.errors);
    const sent = mock.requests.at(-1)!.body as Record<string, unknown>;
    assert.equal(sent['model'], 'gpt-4o-mini');
    assert.equal(sent['temperature'], 0.2);
    assert.equal(sent['seed'], 7);
  });

  test('every client field is forwarded faithfully: tools, tool_choice, parallel calls, format, stop, n, logprobs, images', async () => {
    mock.reset();
    const body = {
      model: 'deep',
      messages: [
        { role: 'system' as const, content: 'Be brief.' },
        {
          role: 'user' as const,
          content: [
            { type: 'text' as const, text: 'What is in this image? call get_weather and get_time' },
            {
              type: 'image_url' as const,
              image_url: { url: 'data:image/png;base64,iVBORw0KGgo=', detail: 'low' as const },
            },
          ],
        },
      ],
      tools: [
        {
          type: 'function' as const,
          function: {
            name: 'get_weather',
            description: 'Weather',
            parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
          },
        },
        { type: 'function' as const, function: { name: 'get_time', parameters: { type: 'object', properties: {} } } },
      ],
      tool_choice: 'auto' as const,
      parallel_tool_calls: true,
      stop: ['END'],
      n: 1,
      logprobs: false,
      presence_penalty: 0.5,
      frequency_penalty: 0.1,
      max_tokens: 500,
      user: 'user-42',
      metadata: { trace: 'abc' },
    };
    const data = await gw.client.chat.completions.create(body);
    const sent = mock.requests.at(-1)!.body as Record<string, unknown>;
    assert.deepEqual(sent, { ...body, model: 'gpt-4o' });
    const calls = data.choices[0]!.message.tool_calls ?? [];
    assert.deepEqual(
      calls.map((c) => (c.type === 'function' ? c.function.name : '')),
      ['get_weather', 'get_time'],
    );
    assert.equal(data.choices[0]!.finish_reason, 'tool_calls');
    assert.ok(validateChatCompletion(data).ok);
  });

  test('response_format json_schema and n > 1 pass through', async () => {
    mock.reset();
    const data = await gw.client.chat.completions.create({
      model: 'upstream/gpt-4o-mini',
      n: 2,
      messages: [{ role: 'user', content: 'json please' }],
      response_format: {
        type: 'json_schema',
        json_schema: {
          name: 'answer',
          schema: { type: 'object', properties: { a: { type: 'string' } } },
          strict: true,
        },
      },
    });
    assert.equal(data.choices.length, 2);
    const sent = mock.requests.at(-1)!.body as Record<string, unknown>;
    assert.deepEqual(sent['response_format'], {
      type: 'json_schema',
      json_schema: { name: 'answer', schema: { type: 'object', properties: { a: { type: 'string' } } }, strict: true },
    });
    assert.equal(sent['n'], 2);
  });

  test('streaming with include_usage: chunks validate, usage chunk carries cost, [DONE] ends it', async () => {
    mock.reset();
    const stream = await gw.client.chat.completions.create({
      model: 'utility',
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: 'user', content: 'Stream to me please' }],
    });
    let text = '';
    let usageChunk: Record<string, unknown> | undefined;
    for await (const chunk of stream) {
      const check = validateChatCompletionChunk(chunk);
      assert.ok(check.ok, check.errors);
      text += chunk.choices[0]?.delta.content ?? '';
      if (chunk.usage) usageChunk = chunk as unknown as Record<string, unknown>;
    }
    assert.match(text, /Stream to me please/);
    assert.ok(usageChunk, 'usage chunk expected');
    const usage = usageChunk['usage'] as { prompt_tokens: number; completion_tokens: number; cost: number };
    const expected = Math.round((usage.prompt_tokens * 0.1 + usage.completion_tokens * 0.4) * 1000) / 1e9;
    assert.equal(usage.cost, expected);
    assert.deepEqual(usageChunk['choices'], []);
    const sent = mock.requests.at(-1)!.body as Record<string, unknown>;
    assert.deepEqual(sent['stream_options'], { include_usage: true });
  });

  test('streaming without include_usage: usage is requested upstream but not shown to the client', async () => {
    mock.reset();
    const res = await gw.post('/v1/chat/completions', {
      model: 'fast',
      stream: true,
      messages: [{ role: 'user', content: 'no usage for me' }],
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/event-stream; charset=utf-8');
    const events = await readSSEData(res);
    assert.equal(events.at(-1), '[DONE]');
    for (const data of events.slice(0, -1)) {
      const chunk = JSON.parse(data);
      // Upstream chunks say `usage: null` while usage is on (forwarded as bytes); no usage figures reach the client.
      assert.ok(chunk.usage == null, 'no usage may reach this client');
      assert.ok(validateChatCompletionChunk(chunk).ok);
    }
    const sent = mock.requests.at(-1)!.body as Record<string, unknown>;
    assert.deepEqual(sent['stream_options'], { include_usage: true });
  });

  test('streaming tool calls arrive whole through the SDK stream helper', async () => {
    mock.reset();
    const runner = gw.client.chat.completions.stream({
      model: 'fast',
      messages: [{ role: 'user', content: 'use get_weather and get_time' }],
      tools: [
        {
          type: 'function',
          function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } },
        },
        { type: 'function', function: { name: 'get_time', parameters: { type: 'object', properties: {} } } },
      ],
    });
    const final = await runner.finalChatCompletion();
    const calls = final.choices[0]!.message.tool_calls ?? [];
    assert.equal(calls.length, 2);
    for (const call of calls) {
      assert.equal(call.type, 'function');
      if (call.type === 'function') assert.doesNotThrow(() => JSON.parse(call.function.arguments));
    }
  });

  test('GET /v1/models lists auto, tiers and catalog models in OpenAI format', async () => {
    const list = await gw.client.models.list();
    const ids = list.data.map((m) => m.id);
    for (const id of ['auto', 'utility', 'fast', 'deep', 'fast:cheapest', 'upstream/gpt-4o-mini']) {
      assert.ok(ids.includes(id), `${id} missing`);
    }
    const res = await fetch(`${gw.baseURL}/models`, { headers: { authorization: 'Bearer mdr-test-key-0123456789' } });
    const check = validateModelList(await res.json());
    assert.ok(check.ok, check.errors);
  });
});
