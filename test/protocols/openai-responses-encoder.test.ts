import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GatewayError } from '../../src/core/errors.ts';
import type { ChatRequest, StreamEvent } from '../../src/core/ir.ts';
import type { PipelineStream } from '../../src/pipeline/stream.ts';
import { ResponsesStreamEncoder } from '../../src/protocols/openai-responses/encode-stream.ts';
import { parseResponsesRequest } from '../../src/protocols/openai-responses/parse-responses-request.ts';
import { validateResponseStreamEvent } from '../helpers/openai-schema.ts';

/** The Responses stream encoder on its own: every internal event kind, in the order providers mix them. */

const stream = { mode: 'ir', served: { target: { model: { upstreamName: 'model-x' } } } } as unknown as PipelineStream;
const request: ChatRequest = parseResponsesRequest({ model: 'fast', input: 'hi', stream: true });

function parse(text: string): Array<Record<string, unknown>> {
  return text
    .split('\n\n')
    .filter((block) => block.trim())
    .map((block) => {
      const data = JSON.parse(block.slice(block.indexOf('data: ') + 6)) as Record<string, unknown>;
      assert.equal(block.split('\n')[0], `event: ${data['type']}`);
      return data;
    });
}

function encode(events: StreamEvent[], ending: (e: ResponsesStreamEncoder) => string) {
  const encoder = new ResponsesStreamEncoder(stream, { requestId: 'req_1', at: 1_700_000_000_000, request });
  let text = '';
  for (const event of events) text += encoder.frame(event) ?? '';
  text += ending(encoder);
  const out = parse(text);
  for (const event of out) {
    const check = validateResponseStreamEvent(event);
    assert.ok(check.ok, check.errors);
  }
  assert.deepEqual(
    out.map((e) => e['sequence_number']),
    out.map((_, i) => i),
  );
  return out;
}

const usage = { inputTokens: 5, cachedInputTokens: 0, cacheWriteTokens: 0, outputTokens: 7, reasoningTokens: 2 };

test('reasoning, text, a refusal and two tool calls become items with their parts, in order', () => {
  const out = encode(
    [
      { type: 'start', id: 'x', model: 'model-x', created: 1 },
      { type: 'reasoning', choice: 0, delta: 'Think', signature: 'sig' },
      { type: 'text', choice: 0, delta: 'Hel' },
      { type: 'text', choice: 0, delta: 'lo' },
      { type: 'refusal', choice: 0, delta: 'No.' },
      { type: 'tool-call', choice: 0, index: 0, id: 'call_a', name: 'f', argumentsDelta: '{"a"' },
      { type: 'tool-call', choice: 0, index: 0, argumentsDelta: ':1}' },
      { type: 'tool-call', choice: 0, index: 1, id: 'call_b', name: 'g', argumentsDelta: '{}' },
      { type: 'finish', choice: 0, reason: 'tool_calls' },
      { type: 'usage', usage },
    ],
    (e) => e.end({ usage, costNano: 1234, error: undefined }),
  );
  const types = out.map((e) => e['type']);
  assert.deepEqual(types.slice(0, 2), ['response.created', 'response.in_progress']);
  assert.equal(types.at(-1), 'response.completed');
  const done = out
    .filter((e) => e['type'] === 'response.output_item.done')
    .map((e) => e['item'] as Record<string, unknown>);
  assert.deepEqual(
    done.map((i) => i['type']),
    ['reasoning', 'message', 'function_call', 'function_call'],
  );
  assert.match(String(done[0]!['encrypted_content']), /^mdr1\./);
  assert.deepEqual(done[1]!['content'], [
    { type: 'output_text', text: 'Hello', annotations: [], logprobs: [] },
    { type: 'refusal', refusal: 'No.' },
  ]);
  assert.equal(done[2]!['arguments'], '{"a":1}');
  assert.equal(done[3]!['call_id'], 'call_b');
  assert.ok(types.includes('response.refusal.delta') && types.includes('response.refusal.done'));
  const final = out.at(-1)!['response'] as { output: unknown[]; usage: Record<string, unknown> };
  assert.deepEqual(final.output, done);
  assert.equal(final.usage['cost'], 1234 / 1e9);
});

test('a cut at the token limit is response.incomplete; a failure is error then response.failed', () => {
  const cut = encode(
    [
      { type: 'text', choice: 0, delta: 'Once upon' },
      { type: 'finish', choice: 0, reason: 'length' },
    ],
    (e) => e.end({ usage, costNano: 1, error: undefined }),
  );
  const last = cut.at(-1)!;
  assert.equal(last['type'], 'response.incomplete');
  assert.deepEqual((last['response'] as Record<string, unknown>)['incomplete_details'], {
    reason: 'max_output_tokens',
  });
  const failed = encode([{ type: 'text', choice: 0, delta: 'Once' }], (e) =>
    e.error(new GatewayError('provider_unavailable', 'upstream went away')),
  );
  assert.deepEqual(
    failed.slice(-2).map((e) => e['type']),
    ['error', 'response.failed'],
  );
  assert.equal(failed.at(-2)!['code'], 'provider_unavailable');
});
