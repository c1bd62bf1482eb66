import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { GatewayError } from '../../../src/core/errors.ts';
import { anthropicOnlyFeatures } from '../../../src/protocols/anthropic-messages/anthropic-only-features.ts';
import { parseAnthropicRequest } from '../../../src/protocols/anthropic-messages/parse-anthropic-request.ts';

function invalid(body: unknown, param: string | null, message?: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof GatewayError, String(err));
    assert.equal(err.code, 'invalid_request');
    assert.equal(err.status, 400);
    assert.equal(err.param, param, `param for ${JSON.stringify(body)}`);
    if (message) assert.match(err.message, message);
    return true;
  };
}

describe('parseAnthropicRequest', () => {
  test('a minimal request', () => {
    const body = { model: 'claude-sonnet-4-6', max_tokens: 100, messages: [{ role: 'user', content: 'Hi' }] };
    const request = parseAnthropicRequest(body);
    assert.deepEqual(request, {
      model: 'claude-sonnet-4-6',
      messages: [{ role: 'user', content: [{ type: 'text', text: 'Hi' }] }],
      stream: false,
      includeUsage: false,
      maxTokens: 100,
      inbound: { protocol: 'anthropic-messages', body },
    });
    assert.equal(request.inbound.body, body, 'the original body object is kept, not copied');
  });

  test('system prompt (string and blocks with cache_control), sampling, stop sequences, metadata, stream', () => {
    const request = parseAnthropicRequest({
      model: 'auto',
      max_tokens: 50,
      system: [{ type: 'text', text: 'Rules', cache_control: { type: 'ephemeral', ttl: '1h' } }],
      messages: [{ role: 'user', content: [{ type: 'text', text: 'Hello', cache_control: { type: 'ephemeral' } }] }],
      temperature: 0.4,
      top_p: 0.9,
      top_k: 20,
      stop_sequences: ['###'],
      metadata: { user_id: 'user-7' },
      stream: true,
    });
    assert.deepEqual(request.messages, [
      { role: 'system', content: [{ type: 'text', text: 'Rules', cacheControl: { type: 'ephemeral', ttl: '1h' } }] },
      { role: 'user', content: [{ type: 'text', text: 'Hello', cacheControl: { type: 'ephemeral' } }] },
    ]);
    assert.equal(request.temperature, 0.4);
    assert.equal(request.topP, 0.9);
    assert.equal(request.topK, 20);
    assert.deepEqual(request.stop, ['###']);
    assert.equal(request.user, 'user-7');
    assert.equal(request.stream, true);
    assert.equal(request.includeUsage, true);
    assert.deepEqual(
      parseAnthropicRequest({ model: 'm', system: 'Be brief', messages: [{ role: 'user', content: 'x' }] }).messages[0],
      {
        role: 'system',
        content: [{ type: 'text', text: 'Be brief' }],
      },
    );
  });

  test('multi-turn with thinking, parallel tool use and tool results (text after results kept in order)', () => {
    const request = parseAnthropicRequest({
      model: 'deep',
      max_tokens: 2000,
      messages: [
        { role: 'user', content: 'Weather in Paris and Rome?' },
        {
          role: 'assistant',
          content: [
            { type: 'thinking', thinking: 'Two cities.', signature: 'sig-abc' },
            { type: 'redacted_thinking', data: 'opaque' },
            { type: 'text', text: 'Checking both.' },
            { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } },
            { type: 'tool_use', id: 'toolu_2', name: 'get_weather', input: { city: 'Rome' } },
          ],
        },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 'toolu_1', content: 'Sunny' },
            {
              type: 'tool_result',
              tool_use_id: 'toolu_2',
              is_error: true,
              content: [{ type: 'text', text: 'Service down' }],
            },
            { type: 'text', text: 'Summarize.' },
          ],
        },
      ],
    });
    assert.deepEqual(request.messages, [
      { role: 'user', content: [{ type: 'text', text: 'Weather in Paris and Rome?' }] },
      {
        role: 'assistant',
        content: [{ type: 'text', text: 'Checking both.' }],
        reasoning: [
          { text: 'Two cities.', signature: 'sig-abc' },
          { text: '', redactedData: 'opaque' },
        ],
        toolCalls: [
          { id: 'toolu_1', name: 'get_weather', arguments: '{"city":"Paris"}' },
          { id: 'toolu_2', name: 'get_weather', arguments: '{"city":"Rome"}' },
        ],
      },
      { role: 'tool', toolCallId: 'toolu_1', content: [{ type: 'text', text: 'Sunny' }] },
      { role: 'tool', toolCallId: 'toolu_2', content: [{ type: 'text', text: 'Service down' }], isError: true },
      { role: 'user', content: [{ type: 'text', text: 'Summarize.' }] },
    ]);
  });

  test('images (base64 and URL) and a plain-text document', () => {
    const request = parseAnthropicRequest({
      model: 'fast',
      max_tokens: 10,
      messages: [
        {
          role: 'user',
          content: [
            { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBOR' } },
            { type: 'image', source: { type: 'url', url: 'https://example.com/a.jpg' } },
            { type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'The doc text' } },
          ],
        },
      ],
    });
    assert.deepEqual(request.messages[0], {
      role: 'user',
      content: [
        { type: 'image', source: { kind: 'base64', mediaType: 'image/png', data: 'iVBOR' } },
        { type: 'image', source: { kind: 'url', url: 'https://example.com/a.jpg' } },
        { type: 'text', text: 'The doc text' },
      ],
    });
  });

  test('tools, every tool_choice, disable_parallel_tool_use', () => {
    const tools = [
      { name: 'get_weather', description: 'Weather', input_schema: { type: 'object', properties: {} }, strict: true },
      { type: 'web_search_20250305', name: 'web_search' },
    ];
    const base = { model: 'fast', max_tokens: 10, messages: [{ role: 'user', content: 'x' }], tools };
    const request = parseAnthropicRequest({ ...base, tool_choice: { type: 'auto', disable_parallel_tool_use: true } });
    assert.deepEqual(request.tools, [
      { name: 'get_weather', description: 'Weather', parameters: { type: 'object', properties: {} }, strict: true },
    ]);
    assert.deepEqual(request.toolChoice, { type: 'auto' });
    assert.equal(request.parallelToolCalls, false);
    assert.deepEqual(parseAnthropicRequest({ ...base, tool_choice: { type: 'any' } }).toolChoice, { type: 'required' });
    assert.deepEqual(parseAnthropicRequest({ ...base, tool_choice: { type: 'none' } }).toolChoice, { type: 'none' });
    assert.deepEqual(
      parseAnthropicRequest({ ...base, tool_choice: { type: 'tool', name: 'get_weather' } }).toolChoice,
      {
        type: 'tool',
        name: 'get_weather',
      },
    );
    assert.equal(parseAnthropicRequest({ ...base, tool_choice: { type: 'any' } }).parallelToolCalls, undefined);
    assert.throws(
      () => parseAnthropicRequest({ ...base, tool_choice: { type: 'tool', name: 'nope' } }),
      invalid(null, 'tool_choice'),
    );
  });

  test('thinking and structured output', () => {
    const base = { model: 'deep', max_tokens: 5000, messages: [{ role: 'user', content: 'x' }] };
    assert.deepEqual(parseAnthropicRequest({ ...base, thinking: { type: 'enabled', budget_tokens: 2048 } }).reasoning, {
      budgetTokens: 2048,
    });
    assert.deepEqual(
      parseAnthropicRequest({ ...base, thinking: { type: 'adaptive' }, output_config: { effort: 'medium' } }).reasoning,
      { effort: 'medium' },
    );
    assert.deepEqual(parseAnthropicRequest({ ...base, thinking: { type: 'adaptive' } }).reasoning, { effort: 'high' });
    assert.equal(parseAnthropicRequest({ ...base, thinking: { type: 'disabled' } }).reasoning, undefined);
    const schema = { type: 'object', properties: { a: { type: 'string' } }, additionalProperties: false };
    assert.deepEqual(
      parseAnthropicRequest({ ...base, output_config: { format: { type: 'json_schema', schema } } }).responseFormat,
      { type: 'json_schema', name: 'response', schema, strict: true },
    );
    assert.deepEqual(
      parseAnthropicRequest({ ...base, output_format: { type: 'json_schema', schema } }).responseFormat?.type,
      'json_schema',
    );
  });

  test('mid-conversation system message and caller headers for the pass-through', () => {
    const request = parseAnthropicRequest(
      {
        model: 'fast',
        max_tokens: 10,
        messages: [
          { role: 'user', content: 'a' },
          { role: 'system', content: 'From now on, French.' },
          { role: 'user', content: 'b' },
        ],
      },
      {
        'anthropic-beta': ['interleaved-thinking-2025-05-14', 'context-1m-2025-08-07'],
        'anthropic-version': '2026-10-21',
      },
    );
    assert.deepEqual(request.messages[1], {
      role: 'system',
      content: [{ type: 'text', text: 'From now on, French.' }],
    });
    assert.deepEqual(request.inbound.headers, {
      'anthropic-beta': 'interleaved-thinking-2025-05-14,context-1m-2025-08-07',
      'anthropic-version': '2026-10-21',
    });
  });

  test('validation errors name the field', () => {
    const ok = { model: 'fast', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] };
    assert.throws(() => parseAnthropicRequest([]), invalid([], null, /JSON object/));
    assert.throws(() => parseAnthropicRequest({ ...ok, model: undefined }), invalid(null, 'model'));
    assert.throws(() => parseAnthropicRequest({ ...ok, messages: [] }), invalid(null, 'messages'));
    assert.throws(
      () => parseAnthropicRequest({ ...ok, messages: [{ role: 'robot', content: 'x' }] }),
      invalid(null, 'messages[0].role'),
    );
    assert.throws(() => parseAnthropicRequest({ ...ok, max_tokens: -1 }), invalid(null, 'max_tokens'));
    assert.throws(() => parseAnthropicRequest({ ...ok, temperature: 3 }), invalid(null, 'temperature'));
    assert.throws(
      () =>
        parseAnthropicRequest({
          ...ok,
          messages: [
            { role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png' } }] },
          ],
        }),
      invalid(null, 'messages[0].content[0].source.data'),
    );
    assert.throws(
      () =>
        parseAnthropicRequest({
          ...ok,
          messages: [
            { role: 'user', content: 'x' },
            { role: 'assistant', content: [{ type: 'tool_use', id: 't', input: {} }] },
          ],
        }),
      invalid(null, 'messages[1].content[0].name'),
    );
    assert.throws(
      () => parseAnthropicRequest({ ...ok, tools: [{ name: 'f', input_schema: { type: 'string' } }] }),
      invalid(null, 'tools[0].input_schema.type'),
    );
    assert.throws(
      () => parseAnthropicRequest({ ...ok, thinking: { type: 'enabled' } }),
      invalid(null, 'thinking.budget_tokens'),
    );
  });

  test('max_tokens may be omitted (the gateway fills a default)', () => {
    assert.equal(
      parseAnthropicRequest({ model: 'fast', messages: [{ role: 'user', content: 'x' }] }).maxTokens,
      undefined,
    );
  });
});

describe('anthropicOnlyFeatures', () => {
  test('names what the IR cannot carry, and nothing for a plain request', () => {
    assert.deepEqual(anthropicOnlyFeatures({ model: 'm', messages: [{ role: 'user', content: 'x' }] }), []);
    const features = anthropicOnlyFeatures({
      model: 'm',
      tools: [{ type: 'web_search_20250305', name: 'web_search' }],
      mcp_servers: [{ type: 'url', url: 'https://mcp.example.com', name: 'x' }],
      messages: [
        {
          role: 'user',
          content: [
            { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: 'JVBER' } },
            { type: 'image', source: { type: 'file', file_id: 'file_1' } },
            { type: 'search_result', source: 'https://x', title: 't', content: [] },
          ],
        },
      ],
    });
    assert.deepEqual(features.sort(), [
      'documents',
      'file images',
      'mcp_servers',
      'search_result blocks',
      'server tools',
    ]);
  });
});
