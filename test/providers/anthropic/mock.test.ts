import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Anthropic, {
  APIError,
  AuthenticationError,
  BadRequestError,
  ContentTooLargeError,
  InternalServerError,
  NotFoundError,
  OverloadedError,
  PaymentRequiredError,
  PermissionDeniedError,
  RateLimitError,
} from '@anthropic-ai/sdk';
import { fixtureEvents, fixtureJSON, type MockAnthropic, startMockAnthropic } from '../../mocks/anthropic.ts';

/**
 * The mock is checked by the official SDK acting as its client: if the mock's wire format drifted from
 * Anthropic's, the SDK's parsing, stream accumulation or error classes would break these tests.
 */

let mock: MockAnthropic;
let client: Anthropic;

before(async () => {
  mock = await startMockAnthropic();
  client = new Anthropic({ apiKey: mock.apiKey, baseURL: mock.url, maxRetries: 0 });
});

after(async () => {
  await mock.close();
});

const weatherTool = {
  name: 'get_weather',
  description: 'Weather for a city',
  input_schema: { type: 'object' as const, properties: { city: { type: 'string' } }, required: ['city'] },
};
const timeTool = {
  name: 'get_time',
  input_schema: { type: 'object' as const, properties: { zone: { type: 'string', enum: ['UTC', 'CET'] } } },
};

describe('mock Anthropic, read by @anthropic-ai/sdk', () => {
  test('non-streaming create returns a message and the request carries the SDK headers', async () => {
    const message = await client.messages.create({
      model: 'claude-haiku-4-5',
      max_tokens: 200,
      messages: [{ role: 'user', content: 'Hi there' }],
    });
    assert.equal(message.type, 'message');
    assert.match(message.id, /^msg_/);
    assert.equal(message.stop_reason, 'end_turn');
    assert.deepEqual(message.content, [{ type: 'text', text: 'Hello from mock Claude. You said: Hi there' }]);
    assert.ok(message.usage.input_tokens > 0);
    assert.ok(message.usage.output_tokens > 0);
    const recorded = mock.requests.at(-1)!;
    assert.equal(recorded.path, '/v1/messages');
    assert.equal(recorded.headers['authorization'], `Bearer ${mock.apiKey}`);
    assert.equal(recorded.headers['anthropic-version'], '2026-10-21');
  });

  test('stream() delivers text events and finalMessage assembles the same message', async () => {
    const stream = client.messages.stream({
      model: 'claude-haiku-4-5',
      max_tokens: 200,
      messages: [{ role: 'user', content: 'Stream this please' }],
    });
    let text = '';
    stream.on('text', (delta) => {
      text += delta;
    });
    const final = await stream.finalMessage();
    assert.equal(text, 'Hello from mock Claude. You said: Stream this please');
    assert.equal(final.content.length, 1);
    assert.equal(final.content[0]!.type, 'text');
    assert.equal(final.content[0]!.type === 'text' && final.content[0]!.text, text);
    assert.equal(final.stop_reason, 'end_turn');
    assert.ok(final.usage.output_tokens > 1, 'message_delta usage replaced the start count');
  });

  test('parallel tool calls, non-streaming and streamed (input_json_delta assembled by the SDK)', async () => {
    const params = {
      model: 'claude-haiku-4-5',
      max_tokens: 500,
      tools: [weatherTool, timeTool],
      messages: [{ role: 'user' as const, content: 'Please use tools for Paris' }],
    };
    const message = await client.messages.create(params);
    const streamed = await client.messages.stream(params).finalMessage();
    for (const result of [message, streamed]) {
      assert.equal(result.stop_reason, 'tool_use');
      const uses = result.content.filter((b) => b.type === 'tool_use');
      assert.equal(uses.length, 2);
      assert.equal(uses[0]!.name, 'get_weather');
      assert.deepEqual(uses[0]!.input, { city: 'city-sample' });
      assert.deepEqual(uses[1]!.input, { zone: 'UTC' });
    }
    assert.deepEqual(
      streamed.content.map((b) => (b.type === 'tool_use' ? b.id : b.type)),
      message.content.map((b) => (b.type === 'tool_use' ? b.id : b.type)),
    );
  });

  test('tool_choice forces a named tool, disable_parallel_tool_use limits to one', async () => {
    const message = await client.messages.create({
      model: 'claude-haiku-4-5',
      max_tokens: 500,
      tools: [weatherTool, timeTool],
      tool_choice: { type: 'tool', name: 'get_time', disable_parallel_tool_use: true },
      messages: [{ role: 'user', content: 'What time is it?' }],
    });
    assert.deepEqual(
      message.content.map((b) => (b.type === 'tool_use' ? b.name : b.type)),
      ['get_time'],
    );
  });

  test('thinking streams thinking deltas and a signature', async () => {
    const stream = client.messages.stream({
      model: 'claude-haiku-4-5',
      max_tokens: 4000,
      thinking: { type: 'enabled', budget_tokens: 2000 },
      messages: [{ role: 'user', content: 'Think first' }],
    });
    let thinking = '';
    let signature = '';
    stream.on('thinking', (delta) => {
      thinking += delta;
    });
    stream.on('signature', (sig) => {
      signature = sig;
    });
    const final = await stream.finalMessage();
    assert.equal(thinking, 'Thinking about: Think first');
    assert.ok(signature.length > 10);
    assert.equal(final.content[0]!.type, 'thinking');
    assert.equal(final.content[1]!.type, 'text');
    assert.ok((final.usage.output_tokens_details?.thinking_tokens ?? 0) > 0);
  });

  test('stop sequences cut the text and are reported', async () => {
    const message = await client.messages.create({
      model: 'claude-haiku-4-5',
      max_tokens: 200,
      stop_sequences: ['Claude'],
      messages: [{ role: 'user', content: 'x' }],
    });
    assert.equal(message.stop_reason, 'stop_sequence');
    assert.equal(message.stop_sequence, 'Claude');
    assert.deepEqual(message.content, [{ type: 'text', text: 'Hello from mock ' }]);
  });

  test('cache_control: first request writes the cache, the second reads it', async () => {
    const params = {
      model: 'claude-haiku-4-5',
      max_tokens: 100,
      system: [
        {
          type: 'text' as const,
          text: 'Long shared instructions. '.repeat(40),
          cache_control: { type: 'ephemeral' as const },
        },
      ],
      messages: [{ role: 'user' as const, content: 'Question' }],
    };
    const first = await client.messages.create(params);
    const second = await client.messages.stream(params).finalMessage();
    assert.ok((first.usage.cache_creation_input_tokens ?? 0) > 0);
    assert.equal(first.usage.cache_read_input_tokens, 0);
    assert.equal(second.usage.cache_creation_input_tokens, 0);
    assert.equal(second.usage.cache_read_input_tokens, first.usage.cache_creation_input_tokens);
  });

  test('count_tokens answers input_tokens', async () => {
    const count = await client.messages.countTokens({
      model: 'claude-haiku-4-5',
      messages: [{ role: 'user', content: 'Count me' }],
    });
    assert.ok(count.input_tokens > 0);
  });

  const errorCases: Array<[number, new (...args: never[]) => APIError, string]> = [
    [400, BadRequestError, 'invalid_request_error'],
    [402, PaymentRequiredError, 'billing_error'],
    [403, PermissionDeniedError, 'permission_error'],
    [404, NotFoundError, 'not_found_error'],
    [413, ContentTooLargeError, 'request_too_large'],
    [429, RateLimitError, 'rate_limit_error'],
    [500, InternalServerError, 'api_error'],
    [529, OverloadedError, 'overloaded_error'],
  ];
  for (const [status, ErrorClass, type] of errorCases) {
    test(`status ${status} is the SDK's ${ErrorClass.name} with type ${type}`, async () => {
      mock.faults.push({ kind: 'status', status });
      const err = await client.messages
        .create({ model: 'claude-haiku-4-5', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] })
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      assert.ok(err instanceof ErrorClass, `got ${String(err)}`);
      assert.equal((err as APIError).status, status);
      assert.equal((err as APIError).type, type);
      assert.match(String((err as APIError).requestID), /^req_/);
      if (status === 429 || status === 529) assert.equal((err as APIError).headers?.get('retry-after'), '7');
    });
  }

  test('a wrong key is the SDK AuthenticationError', async () => {
    const wrong = new Anthropic({ apiKey: 'sk-ant-wrong', baseURL: mock.url, maxRetries: 0 });
    await assert.rejects(
      wrong.messages.create({ model: 'claude-haiku-4-5', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] }),
      (err: unknown) => err instanceof AuthenticationError && err.type === 'authentication_error',
    );
  });

  test('an unknown model is a 404 and a missing anthropic-version a 400', async () => {
    await assert.rejects(
      client.messages.create({ model: 'unknown-model', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] }),
      NotFoundError,
    );
    const res = await fetch(`${mock.url}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': mock.apiKey, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'claude-haiku-4-5', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] }),
    });
    assert.equal(res.status, 400);
    const body = (await res.json()) as { type: string; error: { type: string; message: string } };
    assert.equal(body.type, 'error');
    assert.equal(body.error.type, 'invalid_request_error');
    assert.match(body.error.message, /anthropic-version/);
  });

  test('version 2026-10-21 (what the SDK sends) rejects temperature; 2023-06-01 accepts it on older models', async () => {
    const params = {
      model: 'claude-haiku-4-5',
      max_tokens: 10,
      messages: [{ role: 'user' as const, content: 'x' }],
      ...({ temperature: 0.2 } as object),
    };
    await assert.rejects(
      client.messages.create(params),
      (err: unknown) => err instanceof BadRequestError && /temperature/.test(err.message),
    );
    const legacy = new Anthropic({
      apiKey: mock.apiKey,
      baseURL: mock.url,
      maxRetries: 0,
      defaultHeaders: { 'anthropic-version': '2023-06-01' },
    });
    const message = await legacy.messages.create(params);
    assert.equal(message.stop_reason, 'end_turn');
    await assert.rejects(
      legacy.messages.create({ ...params, model: 'claude-opus-4-7' }),
      (err: unknown) => err instanceof BadRequestError && /deprecated for this model/.test(err.message),
    );
  });

  test('an in-stream error event surfaces as the SDK APIError of that type', async () => {
    mock.enqueue({
      kind: 'events',
      events: [
        ...fixtureEvents('anthropic-text').slice(0, 4),
        { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } },
      ],
    });
    const stream = client.messages.stream({
      model: 'claude-haiku-4-5',
      max_tokens: 10,
      messages: [{ role: 'user', content: 'x' }],
    });
    await assert.rejects(
      stream.finalMessage(),
      (err: unknown) => err instanceof APIError && err.type === 'overloaded_error',
    );
  });

  const replayedStreams = [
    'anthropic-text',
    'anthropic-tool-no-args',
    'anthropic-json-tool.1',
    'anthropic-json-tool.2',
    'anthropic-json-other-tool.1',
    'anthropic-clear-thinking.1',
    'anthropic-clear-tool-uses.1',
    'anthropic-message-delta-input-tokens',
    'anthropic-refusal',
    'anthropic-fallback',
    'anthropic-mcp.1',
    'anthropic-web-search-tool.1',
    'anthropic-code-execution-20260120-prompt-cache.1',
  ];
  for (const name of replayedStreams) {
    test(`replayed stream ${name} is accumulated by the SDK into its final message`, async () => {
      mock.replay(name);
      const final = await client.messages
        .stream({ model: 'claude-haiku-4-5', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] })
        .finalMessage();
      const events = fixtureEvents(name);
      const start = events[0]!['message'] as { id: string };
      const delta = events.find((e) => e['type'] === 'message_delta')!;
      assert.equal(final.id, start.id);
      assert.equal(final.stop_reason, (delta['delta'] as { stop_reason: string }).stop_reason);
      const expectedText = events
        .filter((e) => e['type'] === 'content_block_delta' && (e['delta'] as { type: string }).type === 'text_delta')
        .map((e) => (e['delta'] as { text: string }).text)
        .join('');
      const actualText = final.content.map((b) => (b.type === 'text' ? b.text : '')).join('');
      assert.equal(actualText, expectedText);
      assert.equal(final.usage.output_tokens, (delta['usage'] as { output_tokens: number }).output_tokens);
    });
  }

  for (const name of ['anthropic-text', 'anthropic-tool-no-args', 'anthropic-refusal', 'anthropic-clear-thinking.1']) {
    test(`replayed body ${name}.json comes back unchanged`, async () => {
      mock.replay(name);
      const message = await client.messages.create({
        model: 'claude-haiku-4-5',
        max_tokens: 10,
        messages: [{ role: 'user', content: 'x' }],
      });
      assert.deepEqual(JSON.parse(JSON.stringify(message)), JSON.parse(fixtureJSON(name)));
    });
  }
});
