import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import Anthropic, { APIError, ConflictError, RateLimitError } from '@anthropic-ai/sdk';
import { GatewayError } from '../../../src/core/errors.ts';
import type { StreamEvent } from '../../../src/core/ir.ts';
import {
  renderAnthropicError,
  renderAnthropicStreamError,
} from '../../../src/protocols/anthropic-messages/render-anthropic-error.ts';
import {
  type AnthropicSSEFrame,
  AnthropicStreamRenderer,
  formatAnthropicSSE,
} from '../../../src/protocols/anthropic-messages/render-anthropic-stream.ts';
import { AnthropicStreamTranslator } from '../../../src/providers/anthropic/translate-anthropic-stream.ts';
import { fixtureEvents } from '../../mocks/anthropic.ts';

/**
 * The stream renderer's output, served over HTTP and read by the official SDK's own stream parser and
 * message accumulator: if the event order, indices or shapes were off, `finalMessage()` would be wrong or throw.
 */

type Reply = { kind: 'frames'; frames: AnthropicSSEFrame[] } | { kind: 'error'; error: GatewayError };

let server: Server;
let client: Anthropic;
const replies: Reply[] = [];
let requestCount = 0;

before(async () => {
  server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      requestCount++;
      const reply = replies.shift();
      if (!reply) {
        res.writeHead(500).end();
        return;
      }
      if (reply.kind === 'error') {
        const rendered = renderAnthropicError(reply.error, 'req_test');
        res.writeHead(rendered.status, { 'content-type': 'application/json', ...rendered.headers });
        res.end(JSON.stringify(rendered.body));
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      for (const frame of reply.frames) res.write(formatAnthropicSSE(frame));
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  client = new Anthropic({ apiKey: 'sk-test', baseURL: `http://127.0.0.1:${port}`, maxRetries: 0 });
});

after(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

function render(events: StreamEvent[], fallbackModel = 'claude-haiku-4-5'): AnthropicSSEFrame[] {
  const renderer = new AnthropicStreamRenderer({ model: fallbackModel });
  return [...events.flatMap((e) => renderer.render(e)), ...renderer.finish()];
}

async function readWithSDK(frames: AnthropicSSEFrame[]) {
  replies.push({ kind: 'frames', frames });
  return client.messages
    .stream({ model: 'claude-haiku-4-5', max_tokens: 100, messages: [{ role: 'user', content: 'x' }] })
    .finalMessage();
}

/** The protocol's ordering rules, checked on the rendered frames themselves. */
function assertWellOrdered(frames: AnthropicSSEFrame[]): void {
  assert.equal(frames[0]!.event, 'message_start');
  assert.equal(frames.at(-1)!.event, 'message_stop');
  assert.equal(frames.at(-2)!.event, 'message_delta');
  let open: number | undefined;
  let next = 0;
  for (const frame of frames) {
    assert.equal(frame.event, frame.data['type'], 'event name matches the payload type');
    const index = frame.data['index'] as number | undefined;
    if (frame.event === 'content_block_start') {
      assert.equal(open, undefined, 'previous block closed before the next starts');
      assert.equal(index, next++);
      open = index;
    } else if (frame.event === 'content_block_stop') {
      assert.equal(index, open);
      open = undefined;
    }
  }
  assert.equal(open, undefined);
}

const streamFixtures = [
  'anthropic-text',
  'anthropic-tool-no-args',
  'anthropic-json-other-tool.1',
  'anthropic-clear-thinking.1',
  'anthropic-message-delta-input-tokens',
  'anthropic-refusal',
];

describe('IR stream → Anthropic SSE, read by @anthropic-ai/sdk', () => {
  for (const name of streamFixtures) {
    test(`recorded ${name}: Anthropic → IR → Anthropic, the SDK assembles the same message`, async () => {
      const recorded = fixtureEvents(name);
      const translator = new AnthropicStreamTranslator({ label: 'anthropic' });
      const ir = recorded.flatMap((e) => translator.push(e));
      const frames = render(ir);
      assertWellOrdered(frames);
      const final = await readWithSDK(frames);

      // What the SDK makes of the original recording is the reference.
      replies.push({
        kind: 'frames',
        frames: recorded.map((e) => ({ event: String(e['type']), data: e })),
      });
      const reference = await client.messages
        .stream({ model: 'claude-haiku-4-5', max_tokens: 100, messages: [{ role: 'user', content: 'x' }] })
        .finalMessage();

      assert.equal(final.id, reference.id);
      assert.equal(final.model, reference.model);
      assert.equal(final.stop_reason, reference.stop_reason);
      const essential = (blocks: typeof final.content) =>
        blocks
          .filter((b) => b.type === 'text' || b.type === 'thinking' || b.type === 'tool_use')
          .map((b) =>
            b.type === 'text'
              ? { type: 'text', text: b.text }
              : b.type === 'thinking'
                ? { type: 'thinking', thinking: b.thinking, signature: b.signature }
                : { type: 'tool_use', id: b.id, name: b.name, input: b.input },
          )
          .filter((b) => !(b.type === 'text' && b.text === ''));
      assert.deepEqual(essential(final.content), essential(reference.content));
      assert.equal(final.usage.input_tokens, reference.usage.input_tokens);
      assert.equal(final.usage.output_tokens, reference.usage.output_tokens);
      assert.equal(final.usage.cache_read_input_tokens ?? 0, reference.usage.cache_read_input_tokens ?? 0);
      if (reference.stop_reason === 'refusal') {
        assert.equal(final.stop_details?.explanation, reference.stop_details?.explanation);
      }
    });
  }

  test('recorded duplicate-message-start, which the SDK itself rejects, comes out as one clean message', async () => {
    const translator = new AnthropicStreamTranslator({ label: 'anthropic' });
    const frames = render(fixtureEvents('duplicate-message-start').flatMap((e) => translator.push(e)));
    assertWellOrdered(frames);
    assert.equal(frames.filter((f) => f.event === 'message_start').length, 1);
    const final = await readWithSDK(frames);
    assert.equal(final.id, 'msg_dup');
    assert.deepEqual(final.content, [{ type: 'text', text: 'Hello, World!', citations: null }]);
    assert.equal(final.usage.output_tokens, 227);
  });

  test('an OpenAI-shaped stream: parallel tool calls, usage only at the end, cached tokens split back out', async () => {
    const events: StreamEvent[] = [
      { type: 'start', id: 'chatcmpl-9', model: 'gpt-4o-mini', created: 1 },
      { type: 'text', choice: 0, delta: 'Checking ' },
      { type: 'text', choice: 0, delta: 'both.' },
      { type: 'tool-call', choice: 0, index: 0, id: 'call_a', name: 'get_weather', argumentsDelta: '' },
      { type: 'tool-call', choice: 0, index: 0, argumentsDelta: '{"city":' },
      { type: 'tool-call', choice: 0, index: 0, argumentsDelta: '"Paris"}' },
      { type: 'tool-call', choice: 0, index: 1, id: 'call_b', name: 'get_weather', argumentsDelta: '{"city":"Rome"}' },
      { type: 'finish', choice: 0, reason: 'tool_calls' },
      {
        type: 'usage',
        usage: { inputTokens: 500, cachedInputTokens: 300, cacheWriteTokens: 0, outputTokens: 40, reasoningTokens: 0 },
      },
    ];
    const frames = render(events);
    assertWellOrdered(frames);
    const final = await readWithSDK(frames);
    assert.equal(final.id, 'msg_chatcmpl-9');
    assert.equal(final.model, 'gpt-4o-mini');
    assert.equal(final.stop_reason, 'tool_use');
    assert.deepEqual(
      final.content.map((b) => (b.type === 'tool_use' ? [b.id, b.name, b.input] : b.type === 'text' ? b.text : b.type)),
      ['Checking both.', ['call_a', 'get_weather', { city: 'Paris' }], ['call_b', 'get_weather', { city: 'Rome' }]],
    );
    assert.equal(final.usage.input_tokens, 200);
    assert.equal(final.usage.cache_read_input_tokens, 300);
    assert.equal(final.usage.output_tokens, 40);
  });

  test('usage known at the start goes in message_start', () => {
    const frames = render([
      { type: 'start', id: 'msg_1', model: 'm', created: 1 },
      {
        type: 'usage',
        usage: { inputTokens: 70, cachedInputTokens: 0, cacheWriteTokens: 20, outputTokens: 1, reasoningTokens: 0 },
      },
      { type: 'text', choice: 0, delta: 'hi' },
    ]);
    const start = frames[0]!.data['message'] as { usage: Record<string, unknown> };
    assert.equal(start.usage['input_tokens'], 50);
    assert.equal(start.usage['cache_creation_input_tokens'], 20);
  });

  test('reasoning without a signature, then a stop sequence; an empty stream still forms a message', async () => {
    const final = await readWithSDK(
      render([
        { type: 'start', id: 'x', model: 'deepseek-reasoner', created: 1 },
        { type: 'reasoning', choice: 0, delta: 'Let me ' },
        { type: 'reasoning', choice: 0, delta: 'think.' },
        { type: 'text', choice: 0, delta: 'Answer' },
        { type: 'finish', choice: 0, reason: 'stop', stopSequence: 'END' },
      ]),
    );
    assert.deepEqual(final.content[0], { type: 'thinking', thinking: 'Let me think.', signature: '' });
    assert.equal(final.stop_reason, 'stop_sequence');
    assert.equal(final.stop_sequence, 'END');
    const empty = await readWithSDK(render([]));
    assert.deepEqual(empty.content, []);
    assert.equal(empty.stop_reason, 'end_turn');
  });

  test('choices other than the first and logprobs are not rendered; a refusal is stop_details', async () => {
    const final = await readWithSDK(
      render([
        { type: 'text', choice: 1, delta: 'other choice' },
        { type: 'logprobs', choice: 0, logprobs: {} },
        { type: 'refusal', choice: 0, delta: "I can't help with that." },
        { type: 'finish', choice: 0, reason: 'content_filter' },
      ]),
    );
    assert.deepEqual(final.content, []);
    assert.equal(final.stop_reason, 'refusal');
    assert.equal(final.stop_details?.explanation, "I can't help with that.");
  });

  test('a failure mid-stream is an SSE error event the SDK raises with its type', async () => {
    const renderer = new AnthropicStreamRenderer({ model: 'm' });
    const frames = [
      ...renderer.render({ type: 'text', choice: 0, delta: 'partial' }),
      renderAnthropicStreamError(new GatewayError('provider_unavailable', 'Upstream failed mid-stream')),
    ];
    replies.push({ kind: 'frames', frames });
    const stream = client.messages.stream({ model: 'm', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] });
    await assert.rejects(stream.finalMessage(), (err: unknown) => {
      assert.ok(err instanceof APIError);
      assert.equal(err.type, 'overloaded_error');
      assert.match(err.message, /Upstream failed mid-stream/);
      return true;
    });
  });

  test('error responses are the SDK typed errors, and x-should-retry stops SDK retries of non-retryable ones', async () => {
    replies.push({ kind: 'error', error: new GatewayError('rate_limited', 'Too many requests', { retryAfter: 4 }) });
    await assert.rejects(
      client.messages.create({ model: 'm', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] }),
      (err: unknown) =>
        err instanceof RateLimitError && err.headers?.get('retry-after') === '4' && err.requestID === 'req_test',
    );
    // The SDK retries 409s by default; the gateway says this one must not be retried, and the SDK obeys.
    const retrying = new Anthropic({ apiKey: 'sk-test', baseURL: client.baseURL, maxRetries: 2 });
    const before = requestCount;
    replies.push({ kind: 'error', error: new GatewayError('idempotency_conflict', 'Key reused with another body') });
    await assert.rejects(
      retrying.messages.create({ model: 'm', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] }),
      ConflictError,
    );
    assert.equal(requestCount - before, 1);
  });
});
