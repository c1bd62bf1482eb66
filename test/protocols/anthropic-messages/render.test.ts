import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ERROR_CODES, type ErrorCode, GatewayError } from '../../../src/core/errors.ts';
import type { ChatResponse } from '../../../src/core/ir.ts';
import { toAnthropicStopReason } from '../../../src/protocols/anthropic-messages/map-finish-reason.ts';
import { parseAnthropicRequest } from '../../../src/protocols/anthropic-messages/parse-anthropic-request.ts';
import {
  renderAnthropicError,
  renderAnthropicStreamError,
} from '../../../src/protocols/anthropic-messages/render-anthropic-error.ts';
import { renderAnthropicResponse } from '../../../src/protocols/anthropic-messages/render-anthropic-response.ts';
import { convertToAnthropicRequest } from '../../../src/providers/anthropic/convert-to-anthropic-request.ts';
import { parseAnthropicResponse } from '../../../src/providers/anthropic/parse-anthropic-response.ts';
import { TokenCounter } from '../../../src/tokens/token-counter.ts';
import { promptTokens } from '../../../src/tokens/tokens.ts';
import { fixtureJSON } from '../../mocks/anthropic.ts';
import { catalogModel } from '../../providers/anthropic/helpers.ts';

describe('renderAnthropicResponse', () => {
  test('an IR response from another provider becomes an Anthropic message', () => {
    const response: ChatResponse = {
      id: 'chatcmpl-123',
      created: 1_700_000_000,
      model: 'gpt-4o-mini-2024-07-18',
      choices: [
        {
          index: 0,
          finishReason: 'tool_calls',
          message: {
            content: 'Let me check.',
            reasoning: [{ text: 'unsigned thoughts' }, { text: '', redactedData: 'xyz' }],
            toolCalls: [
              { id: 'call_abc', name: 'get_weather', arguments: '{"city":"Paris"}' },
              { id: '', name: 'broken', arguments: '{"city":' },
            ],
          },
        },
      ],
      usage: {
        inputTokens: 1000,
        cachedInputTokens: 600,
        cacheWriteTokens: 100,
        outputTokens: 50,
        reasoningTokens: 20,
      },
    };
    const message = renderAnthropicResponse(response);
    assert.equal(message.id, 'msg_chatcmpl-123');
    assert.equal(message.type, 'message');
    assert.equal(message.role, 'assistant');
    assert.equal(message.model, 'gpt-4o-mini-2024-07-18');
    assert.equal(message.stop_reason, 'tool_use');
    assert.equal(message.stop_sequence, null);
    assert.equal(message.content.length, 5);
    assert.deepEqual(message.content[0], { type: 'thinking', thinking: 'unsigned thoughts', signature: '' });
    assert.deepEqual(message.content[1], { type: 'redacted_thinking', data: 'xyz' });
    assert.deepEqual(message.content[2], { type: 'text', text: 'Let me check.', citations: null });
    assert.deepEqual(message.content[3], {
      type: 'tool_use',
      id: 'call_abc',
      name: 'get_weather',
      input: { city: 'Paris' },
      caller: { type: 'direct' },
    });
    const broken = message.content[4]!;
    assert.ok(broken.type === 'tool_use');
    assert.match(broken.id, /^toolu_[A-Za-z0-9]{24}$/);
    assert.deepEqual(broken.input, {});
    assert.deepEqual(message.usage, {
      input_tokens: 300,
      cache_creation_input_tokens: 100,
      cache_read_input_tokens: 600,
      cache_creation: null,
      output_tokens: 50,
      output_tokens_details: { thinking_tokens: 20 },
      server_tool_use: null,
      service_tier: 'standard',
      inference_geo: null,
      speed: null,
    });
  });

  test('stop sequence and refusal', () => {
    const base: ChatResponse = {
      id: 'msg_01abc',
      created: 0,
      model: 'm',
      choices: [{ index: 0, finishReason: 'stop', stopSequence: '###', message: { content: 'partial' } }],
      usage: { inputTokens: 1, cachedInputTokens: 0, cacheWriteTokens: 0, outputTokens: 1, reasoningTokens: 0 },
    };
    const stopped = renderAnthropicResponse(base);
    assert.equal(stopped.id, 'msg_01abc');
    assert.equal(stopped.stop_reason, 'stop_sequence');
    assert.equal(stopped.stop_sequence, '###');
    const refused = renderAnthropicResponse({
      ...base,
      choices: [{ index: 0, finishReason: 'content_filter', message: { content: null, refusal: 'Not allowed' } }],
    });
    assert.equal(refused.stop_reason, 'refusal');
    assert.deepEqual(refused.stop_details, { type: 'refusal', category: null, explanation: 'Not allowed' });
    assert.deepEqual(refused.content, []);
  });

  test('stop reason mapping', () => {
    assert.equal(toAnthropicStopReason('stop'), 'end_turn');
    assert.equal(toAnthropicStopReason('stop', 'END'), 'stop_sequence');
    assert.equal(toAnthropicStopReason('length'), 'max_tokens');
    assert.equal(toAnthropicStopReason('tool_calls'), 'tool_use');
    assert.equal(toAnthropicStopReason('content_filter'), 'refusal');
  });
});

describe('round trips', () => {
  for (const name of [
    'anthropic-text',
    'anthropic-tool-no-args',
    'anthropic-refusal',
    'anthropic-clear-thinking.1',
    'anthropic-claude-opus-5-reasoning-high.1',
    'anthropic-json-output-format.1',
  ]) {
    test(`recorded body ${name}: Anthropic → IR → Anthropic keeps content, stop reason and usage`, () => {
      const original = JSON.parse(fixtureJSON(name)) as Record<string, unknown> & {
        content: Array<Record<string, unknown>>;
        usage: Record<string, number>;
      };
      const rendered = renderAnthropicResponse(parseAnthropicResponse(original, 'anthropic'));
      assert.equal(rendered.id, original['id']);
      assert.equal(rendered.model, original['model']);
      assert.equal(rendered.stop_reason, original['stop_reason']);
      assert.equal(rendered.stop_sequence, original['stop_sequence'] ?? null);
      const strip = (blocks: Array<Record<string, unknown>>) =>
        blocks.map(({ citations: _c, caller: _k, ...rest }) => rest);
      assert.deepEqual(strip(rendered.content as never), strip(original.content));
      for (const key of [
        'input_tokens',
        'cache_creation_input_tokens',
        'cache_read_input_tokens',
        'output_tokens',
      ] as const) {
        assert.equal(rendered.usage[key], original.usage[key], key);
      }
    });
  }

  test('a rich Anthropic request survives Anthropic → IR → Anthropic', () => {
    const body = {
      model: 'claude-haiku-4-5',
      max_tokens: 1000,
      system: [{ type: 'text', text: 'You are helpful.', cache_control: { type: 'ephemeral' } }],
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Weather in Paris?' },
            { type: 'image', source: { type: 'url', url: 'https://x/y.png' } },
          ],
        },
        {
          role: 'assistant',
          content: [
            { type: 'thinking', thinking: 'Need the tool.', signature: 'sig' },
            { type: 'text', text: 'Checking.' },
            { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } },
          ],
        },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'Sunny' }] },
      ],
      tools: [
        {
          name: 'get_weather',
          description: 'Weather',
          input_schema: { type: 'object', properties: { city: { type: 'string' } } },
        },
      ],
      tool_choice: { type: 'auto', disable_parallel_tool_use: true },
      stop_sequences: ['END'],
      metadata: { user_id: 'u1' },
      temperature: 0.5,
    };
    const { body: translated } = convertToAnthropicRequest(
      parseAnthropicRequest(body),
      catalogModel({ upstreamName: 'claude-haiku-4-5' }),
    );
    assert.deepEqual(translated, body);
  });
});

describe('renderAnthropicError', () => {
  const expectations: Record<ErrorCode, string> = {
    invalid_request: 'invalid_request_error',
    authentication_failed: 'authentication_error',
    permission_denied: 'permission_error',
    not_found: 'not_found_error',
    idempotency_conflict: 'invalid_request_error',
    context_length_exceeded: 'invalid_request_error',
    content_filtered: 'invalid_request_error',
    quota_exceeded: 'billing_error',
    rate_limited: 'rate_limit_error',
    provider_unavailable: 'overloaded_error',
    timeout: 'timeout_error',
    internal_error: 'api_error',
  };
  for (const [code, type] of Object.entries(expectations) as Array<[ErrorCode, string]>) {
    test(`${code} → ${ERROR_CODES[code].status} ${type}`, () => {
      const rendered = renderAnthropicError(new GatewayError(code, `the ${code} message`), 'req_1');
      assert.equal(rendered.status, ERROR_CODES[code].status);
      assert.deepEqual(rendered.body, {
        type: 'error',
        error: { type, message: `the ${code} message` },
        request_id: 'req_1',
      });
      assert.equal(rendered.headers['x-should-retry'], String(ERROR_CODES[code].retryable));
      assert.equal(rendered.headers['request-id'], 'req_1');
    });
  }

  test('retry-after header and the SSE error event', () => {
    const err = new GatewayError('rate_limited', 'slow down', { retryAfter: 2.5 });
    assert.equal(renderAnthropicError(err).headers['retry-after'], '3');
    assert.deepEqual(renderAnthropicStreamError(err), {
      event: 'error',
      data: { type: 'error', error: { type: 'rate_limit_error', message: 'slow down' }, request_id: null },
    });
  });
});

describe('the local prompt count (count_tokens without a provider count)', () => {
  test('counts more for a longer prompt, includes system and tools', async (t) => {
    const counter = new TokenCounter({ budgetMs: 10_000 });
    t.after(() => counter.close());
    const short = await promptTokens(
      counter,
      parseAnthropicRequest({ model: 'm', messages: [{ role: 'user', content: 'Hello there' }] }),
    );
    const long = await promptTokens(
      counter,
      parseAnthropicRequest({
        model: 'm',
        system: 'You are a careful assistant who answers in full sentences.',
        tools: [{ name: 'f', input_schema: { type: 'object', properties: { a: { type: 'string' } } } }],
        messages: [{ role: 'user', content: 'Hello there, please explain the theory of relativity in detail.' }],
      }),
    );
    assert.ok(short > 2 && short < 20, String(short));
    assert.ok(long > short + 20, String(long));
  });
});
