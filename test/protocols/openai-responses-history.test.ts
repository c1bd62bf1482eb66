import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ChatResponse } from '../../src/core/ir.ts';
import {
  conversationOf,
  outputMessages,
  parseResponsesRequest,
  prependHistory,
} from '../../src/protocols/openai-responses/parse-responses-request.ts';
import { renderResponse } from '../../src/protocols/openai-responses/render-response.ts';

/** What a stored response keeps of a request and its answer, and how it is put before the next request. */

const USAGE = {
  inputTokens: 10,
  cachedInputTokens: 0,
  cacheWriteTokens: 0,
  outputTokens: 5,
  reasoningTokens: 2,
};

test("an answer's output items read back as the assistant message it was (text, tool calls, signed reasoning)", () => {
  const request = parseResponsesRequest({ model: 'fast', input: 'hi' });
  const answer: ChatResponse = {
    id: 'x',
    created: 1,
    model: 'm',
    usage: USAGE,
    choices: [
      {
        index: 0,
        finishReason: 'tool_calls',
        message: {
          content: 'Let me look.',
          reasoning: [{ text: 'thinking…', signature: 'sig-123' }],
          toolCalls: [{ id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris"}' }],
        },
      },
    ],
  };
  const response = renderResponse(answer, request, 'req_abc', 0, { store: true, previousResponseId: null });
  assert.equal(response['store'], true);
  assert.deepEqual(outputMessages(response['output'] as unknown[]), [
    {
      role: 'assistant',
      content: [{ type: 'text', text: 'Let me look.' }],
      reasoning: [{ text: 'thinking…', signature: 'sig-123' }],
      toolCalls: [{ id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris"}' }],
    },
  ]);
});

test('instructions are not kept, and the history goes after the new instructions', () => {
  const first = parseResponsesRequest({
    model: 'fast',
    instructions: 'Old rules',
    input: [
      { role: 'developer', content: 'Kept: an input item' },
      { role: 'user', content: 'Q1' },
    ],
  });
  const kept = conversationOf(first);
  assert.deepEqual(
    kept.map((m) => m.role),
    ['system', 'user'],
  );
  assert.equal((kept[0]!.content[0] as { text: string }).text, 'Kept: an input item');

  const next = parseResponsesRequest(
    { model: 'fast', instructions: 'New rules', previous_response_id: 'resp_1', input: 'Q2' },
    { storing: true },
  );
  prependHistory(next, kept);
  assert.deepEqual(
    next.messages.map((m) => `${m.role}:${(m.content[0] as { text: string }).text}`),
    ['system:New rules', 'system:Kept: an input item', 'user:Q1', 'user:Q2'],
  );
  // Without instructions the history comes first.
  const bare = parseResponsesRequest({ model: 'fast', previous_response_id: 'resp_1', input: 'Q3' }, { storing: true });
  prependHistory(bare, kept);
  assert.deepEqual(
    bare.messages.map((m) => m.role),
    ['system', 'user', 'user'],
  );
  assert.deepEqual(conversationOf(bare), bare.messages);
});

test('previous_response_id is refused unless the caller stores responses', () => {
  assert.throws(
    () => parseResponsesRequest({ model: 'fast', previous_response_id: 'resp_1', input: 'x' }),
    (err: { param?: string; message: string }) =>
      err.param === 'previous_response_id' && /storage is off/.test(err.message),
  );
});
