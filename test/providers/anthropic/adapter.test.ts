import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { GatewayError } from '../../../src/core/errors.ts';
import type { ChatRequest, StreamEvent } from '../../../src/core/ir.ts';
import { anthropicAdapter, countAnthropicTokens, DEFAULT_MAX_TOKENS } from '../../../src/providers/anthropic/index.ts';
import type { PassthroughFrame } from '../../../src/providers/types.ts';
import { closeCallContexts } from '../../helpers/call-context.ts';
import {
  ANTHROPIC_FIXTURES_DIR,
  fixtureEvents,
  type MockAnthropic,
  startMockAnthropic,
} from '../../mocks/anthropic.ts';
import { chatRequest, collect, ctx, target } from './helpers.ts';

let mock: MockAnthropic;

before(async () => {
  mock = await startMockAnthropic();
});

after(async () => {
  await mock.close();
  await closeCallContexts();
});

const weather = {
  name: 'get_weather',
  description: 'Weather for a city',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};
const clock = {
  name: 'get_time',
  parameters: { type: 'object', properties: { zone: { type: 'string', enum: ['UTC'] } } },
};

function ask(text: string, overrides: Partial<ChatRequest> = {}): ChatRequest {
  return chatRequest({ messages: [{ role: 'user', content: [{ type: 'text', text }] }], ...overrides });
}

async function failure(promise: Promise<unknown>): Promise<GatewayError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof GatewayError, `expected a GatewayError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a failure');
}

async function streamed(request: ChatRequest, t = target(mock.url, mock.apiKey)): Promise<StreamEvent[]> {
  return collect(await anthropicAdapter.stream({ ...request, stream: true }, t, ctx()));
}

function textOf(events: StreamEvent[]): string {
  return events.map((e) => (e.type === 'text' ? e.delta : '')).join('');
}

describe('Anthropic adapter against the mock', () => {
  test('complete: request shape on the wire and the IR answer', async () => {
    const response = await anthropicAdapter.complete(ask('Hi there'), target(mock.url, mock.apiKey), ctx());
    const sent = mock.requests.at(-1)!;
    assert.equal(sent.path, '/v1/messages');
    assert.equal(sent.headers['x-api-key'], mock.apiKey);
    assert.equal(sent.headers['anthropic-version'], '2023-06-01');
    assert.equal(sent.headers['content-type'], 'application/json');
    assert.deepEqual(sent.body, {
      model: 'claude-haiku-4-5',
      max_tokens: DEFAULT_MAX_TOKENS,
      messages: [{ role: 'user', content: [{ type: 'text', text: 'Hi there' }] }],
    });
    assert.match(response.id, /^msg_mock/);
    assert.equal(response.model, 'claude-haiku-4-5');
    assert.deepEqual(response.choices, [
      { index: 0, message: { content: 'Hello from mock Claude. You said: Hi there' }, finishReason: 'stop' },
    ]);
    assert.ok(response.usage.inputTokens > 0);
    assert.ok(response.usage.outputTokens > 0);
  });

  test('a base URL that ends in /v1 reaches the same endpoint', async () => {
    await anthropicAdapter.complete(ask('x'), target(`${mock.url}/v1/`, mock.apiKey), ctx());
    assert.equal(mock.requests.at(-1)!.path, '/v1/messages');
  });

  test('stop reasons: stop_sequence, max_tokens, tool_use, refusal, end_turn', async () => {
    const t = target(mock.url, mock.apiKey);
    const bySequence = await anthropicAdapter.complete(ask('x', { stop: ['Claude'] }), t, ctx());
    assert.equal(bySequence.choices[0]!.finishReason, 'stop');
    assert.equal(bySequence.choices[0]!.stopSequence, 'Claude');
    assert.equal(bySequence.choices[0]!.message.content, 'Hello from mock ');
    const byLength = await anthropicAdapter.complete(ask('x', { maxTokens: 3 }), t, ctx());
    assert.equal(byLength.choices[0]!.finishReason, 'length');
    assert.equal(byLength.choices[0]!.message.content, 'Hello from m');
    const byTool = await anthropicAdapter.complete(ask('please use tools', { tools: [weather] }), t, ctx());
    assert.equal(byTool.choices[0]!.finishReason, 'tool_calls');
    const byRefusal = await anthropicAdapter.complete(ask('[[refuse]] this'), t, ctx());
    assert.equal(byRefusal.choices[0]!.finishReason, 'content_filter');
    assert.match(byRefusal.choices[0]!.message.refusal!, /violative cyber/);
    const natural = await anthropicAdapter.complete(ask('x'), t, ctx());
    assert.equal(natural.choices[0]!.finishReason, 'stop');
    assert.equal(natural.choices[0]!.stopSequence, undefined);
  });

  test('parallel tool calls, non-streaming and streamed, with arguments assembled from input_json_delta', async () => {
    const request = ask('use tools for Paris', { tools: [weather, clock] });
    const response = await anthropicAdapter.complete(request, target(mock.url, mock.apiKey), ctx());
    const calls = response.choices[0]!.message.toolCalls!;
    assert.deepEqual(
      calls.map((c) => [c.name, JSON.parse(c.arguments)]),
      [
        ['get_weather', { city: 'city-sample' }],
        ['get_time', { zone: 'UTC' }],
      ],
    );
    const events = await streamed(request);
    const starts = events.filter((e) => e.type === 'tool-call' && e.id !== undefined);
    assert.equal(starts.length, 2);
    const args = ['', ''];
    for (const e of events) if (e.type === 'tool-call') args[e.index] += e.argumentsDelta;
    assert.deepEqual(
      args.map((a) => JSON.parse(a)),
      [{ city: 'city-sample' }, { zone: 'UTC' }],
    );
    assert.ok(
      events.filter((e) => e.type === 'tool-call' && e.id === undefined).length > 2,
      'arguments arrived in several deltas',
    );
    assert.deepEqual(
      starts.map((e) => (e.type === 'tool-call' ? e.id : '')),
      calls.map((c) => c.id),
    );
    const finish = events.find((e) => e.type === 'finish');
    assert.deepEqual(finish, { type: 'finish', choice: 0, reason: 'tool_calls' });
  });

  test('tool results go back as tool_result blocks and are answered', async () => {
    const request = chatRequest({
      tools: [weather],
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'use tools' }] },
        {
          role: 'assistant',
          content: [],
          toolCalls: [{ id: 'toolu_a', name: 'get_weather', arguments: '{"city":"Paris"}' }],
        },
        { role: 'tool', toolCallId: 'toolu_a', content: [{ type: 'text', text: 'Sunny, 21C' }] },
      ],
    });
    const response = await anthropicAdapter.complete(request, target(mock.url, mock.apiKey), ctx());
    assert.equal(response.choices[0]!.message.content, 'Received 1 tool result(s): Sunny, 21C');
    const sent = mock.requests.at(-1)!.body!;
    assert.deepEqual((sent['messages'] as unknown[])[2], {
      role: 'user',
      content: [{ type: 'tool_result', tool_use_id: 'toolu_a', content: 'Sunny, 21C' }],
    });
  });

  test('streaming text: start, text deltas, finish, usage from message_start and message_delta', async () => {
    const events = await streamed(ask('Stream me'));
    assert.equal(events[0]!.type, 'start');
    assert.equal(textOf(events), 'Hello from mock Claude. You said: Stream me');
    assert.ok(events.filter((e) => e.type === 'text').length > 2);
    const usages = events.filter((e) => e.type === 'usage');
    assert.equal(usages.length, 2);
    assert.equal(usages[0]!.type === 'usage' && usages[0]!.usage.outputTokens, 1);
    const last = usages.at(-1)!;
    assert.ok(last.type === 'usage' && last.usage.outputTokens > 1);
    assert.equal(mock.requests.at(-1)!.body!['stream'], true);
    assert.equal(mock.requests.at(-1)!.headers['accept'], 'text/event-stream');
  });

  test('thinking: budget thinking on Claude 4.5, streamed with its signature and thinking tokens', async () => {
    const events = await streamed(ask('Solve it', { reasoning: { effort: 'low' } }));
    const sent = mock.requests.at(-1)!.body!;
    assert.deepEqual(sent['thinking'], { type: 'enabled', budget_tokens: 4096 });
    const reasoning = events.filter((e) => e.type === 'reasoning');
    assert.equal(reasoning.map((e) => (e.type === 'reasoning' ? e.delta : '')).join(''), 'Thinking about: Solve it');
    assert.ok(reasoning.some((e) => e.type === 'reasoning' && (e.signature ?? '').length > 10));
    const usage = events.filter((e) => e.type === 'usage').at(-1)!;
    assert.ok(
      usage.type === 'usage' &&
        usage.usage.reasoningTokens > 0 &&
        usage.usage.reasoningTokens < usage.usage.outputTokens,
    );
  });

  test('thinking: adaptive with effort on Claude 4.6+, no sampling parameters on 4.7+', async () => {
    const t = target(mock.url, mock.apiKey, { upstreamName: 'claude-opus-4-7' });
    const response = await anthropicAdapter.complete(
      ask('Think', { reasoning: { effort: 'high' }, temperature: 0.1 }),
      t,
      ctx(),
    );
    const sent = mock.requests.at(-1)!.body!;
    assert.deepEqual(sent['thinking'], { type: 'adaptive' });
    assert.deepEqual(sent['output_config'], { effort: 'high' });
    assert.equal(sent['temperature'], undefined);
    assert.equal(response.choices[0]!.message.reasoning?.[0]?.text, 'Thinking about: Think');
  });

  test('prompt caching: cache write on the first call, cache read on the second, input total unchanged', async () => {
    const request = chatRequest({
      messages: [
        {
          role: 'system',
          content: [{ type: 'text', text: 'Shared policy text. '.repeat(50), cacheControl: { type: 'ephemeral' } }],
        },
        { role: 'user', content: [{ type: 'text', text: 'Question one' }] },
      ],
    });
    const t = target(mock.url, mock.apiKey, { upstreamName: 'claude-sonnet-4-6' });
    const first = await anthropicAdapter.complete(request, t, ctx());
    const second = await streamed(request, t);
    const secondUsage = second.filter((e) => e.type === 'usage').at(-1)!;
    assert.ok(secondUsage.type === 'usage');
    assert.ok(first.usage.cacheWriteTokens > 0);
    assert.equal(first.usage.cachedInputTokens, 0);
    assert.equal(secondUsage.usage.cacheWriteTokens, 0);
    assert.equal(secondUsage.usage.cachedInputTokens, first.usage.cacheWriteTokens);
    assert.equal(secondUsage.usage.inputTokens, first.usage.inputTokens);
    const system = mock.requests.at(-1)!.body!['system'] as Array<{ cache_control?: unknown }>;
    assert.deepEqual(system[0]!.cache_control, { type: 'ephemeral' });
  });

  test('JSON schema: output_config.format on new models, the json tool on old ones', async () => {
    const schema = { type: 'object', properties: { answer: { type: 'string' } }, required: ['answer'] };
    const responseFormat = { type: 'json_schema' as const, name: 'answer', schema };
    const modern = await anthropicAdapter.complete(ask('x', { responseFormat }), target(mock.url, mock.apiKey), ctx());
    assert.deepEqual(JSON.parse(modern.choices[0]!.message.content!), { answer: 'answer-sample' });
    assert.deepEqual(mock.requests.at(-1)!.body!['output_config'], { format: { type: 'json_schema', schema } });

    const old = target(mock.url, mock.apiKey, {
      upstreamName: 'claude-3-5-haiku-20241022',
      capabilities: { tools: true, vision: true, jsonSchema: false, streaming: true, reasoning: false },
    });
    const viaTool = await anthropicAdapter.complete(ask('x', { responseFormat }), old, ctx());
    assert.deepEqual(JSON.parse(viaTool.choices[0]!.message.content!), { answer: 'answer-sample' });
    assert.equal(viaTool.choices[0]!.finishReason, 'stop');
    assert.equal(viaTool.choices[0]!.message.toolCalls, undefined);
    const events = await streamed(ask('x', { responseFormat }), old);
    assert.deepEqual(JSON.parse(textOf(events)), { answer: 'answer-sample' });
    assert.deepEqual(
      events.find((e) => e.type === 'finish'),
      { type: 'finish', choice: 0, reason: 'stop' },
    );
    assert.equal(events.filter((e) => e.type === 'tool-call').length, 0);
  });

  test('replayed recorded stream through the adapter (json tool sample)', async () => {
    mock.replay('anthropic-json-tool.2');
    const old = target(mock.url, mock.apiKey, {
      upstreamName: 'claude-3-5-haiku-20241022',
      capabilities: { tools: true, vision: true, jsonSchema: false, streaming: true, reasoning: false },
    });
    const events = await streamed(
      ask('x', { responseFormat: { type: 'json_schema', name: 'w', schema: { type: 'object' } } }),
      old,
    );
    assert.equal(
      textOf(events),
      '{"elements": [{"location": "San Francisco", "temperature": 58, "condition": "sunny"}]}',
    );
  });

  test('an in-stream error event ends the stream with the mapped error, after the content delivered', async () => {
    mock.enqueue({
      kind: 'events',
      events: [
        ...fixtureEvents('anthropic-text').slice(0, 5),
        { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } },
      ],
    });
    const iterable = await anthropicAdapter.stream(ask('x', { stream: true }), target(mock.url, mock.apiKey), ctx());
    const seen: StreamEvent[] = [];
    const err = await failure(
      (async () => {
        for await (const e of iterable) seen.push(e);
      })(),
    );
    assert.equal(err.code, 'provider_unavailable');
    assert.equal(err.upstreamStatus, 529);
    assert.equal(textOf(seen), 'Hello! I');
  });

  test('a stream cut mid-way (reset) is a retryable GatewayError, never a short success', async () => {
    mock.faults.push({ kind: 'reset-mid-stream', afterEvents: 4 });
    const iterable = await anthropicAdapter.stream(
      ask('Cut me', { stream: true }),
      target(mock.url, mock.apiKey),
      ctx(),
    );
    const seen: StreamEvent[] = [];
    const err = await failure(
      (async () => {
        for await (const e of iterable) seen.push(e);
      })(),
    );
    assert.equal(err.code, 'provider_unavailable');
    assert.equal(err.retryable, true);
    assert.equal(seen[0]!.type, 'start');
    assert.equal(
      seen.some((e) => e.type === 'finish'),
      false,
    );
    const usage = seen.filter((e) => e.type === 'usage').at(-1);
    assert.ok(
      usage?.type === 'usage' && usage.usage.inputTokens > 0,
      'what was delivered is metered from message_start',
    );
  });

  test('a malformed event is a GatewayError', async () => {
    mock.faults.push({ kind: 'malformed-stream', afterEvents: 3 });
    const iterable = await anthropicAdapter.stream(ask('x', { stream: true }), target(mock.url, mock.apiKey), ctx());
    const err = await failure(collect(iterable));
    assert.equal(err.code, 'provider_unavailable');
  });

  test('a 200 with a body that is not the protocol is a GatewayError, streaming or not', async () => {
    mock.faults.push({ kind: 'garbage-body' });
    const err = await failure(anthropicAdapter.complete(ask('x'), target(mock.url, mock.apiKey), ctx()));
    assert.equal(err.code, 'provider_unavailable');
    mock.faults.push({ kind: 'garbage-body' });
    const iterable = await anthropicAdapter.stream(ask('x', { stream: true }), target(mock.url, mock.apiKey), ctx());
    const streamErr = await failure(collect(iterable));
    assert.equal(streamErr.code, 'provider_unavailable');
    assert.match(streamErr.message, /message_stop/);
  });

  test('HTTP errors are mapped: 429 with Retry-After, 529, wrong key, unknown model, upstream 400', async () => {
    mock.faults.push({ kind: 'status', status: 429 });
    const limited = await failure(anthropicAdapter.complete(ask('x'), target(mock.url, mock.apiKey), ctx()));
    assert.equal(limited.code, 'rate_limited');
    assert.equal(limited.retryAfter, 7);
    mock.faults.push({ kind: 'status', status: 529 });
    const overloaded = await failure(
      anthropicAdapter.stream(ask('x', { stream: true }), target(mock.url, mock.apiKey), ctx()),
    );
    assert.equal(overloaded.code, 'provider_unavailable');
    assert.equal(overloaded.upstreamStatus, 529);
    const wrongKey = await failure(
      anthropicAdapter.complete(ask('x'), target(mock.url, 'sk-ant-wrong-key-1234567890'), ctx()),
    );
    assert.equal(wrongKey.code, 'authentication_failed');
    assert.equal(wrongKey.keyRejected, true);
    assert.doesNotMatch(wrongKey.message, /wrong-key/);
    const missing = await failure(
      anthropicAdapter.complete(ask('x'), target(mock.url, mock.apiKey, { upstreamName: 'unknown-claude' }), ctx()),
    );
    assert.equal(missing.code, 'not_found');
    assert.equal(missing.failover, true);
    mock.enqueue({
      kind: 'json',
      status: 400,
      body: {
        type: 'error',
        error: { type: 'invalid_request_error', message: 'prompt is too long: 210000 tokens > 200000 maximum' },
      },
    });
    const tooLong = await failure(anthropicAdapter.complete(ask('x'), target(mock.url, mock.apiKey), ctx()));
    assert.equal(tooLong.code, 'context_length_exceeded');
  });

  test('connection reset before an answer is provider_unavailable', async () => {
    mock.faults.push({ kind: 'reset' });
    const err = await failure(anthropicAdapter.complete(ask('x'), target(mock.url, mock.apiKey), ctx()));
    assert.equal(err.code, 'provider_unavailable');
  });

  test('a stream that stalls is a timeout', async () => {
    mock.faults.push({ kind: 'stall-mid-stream', afterEvents: 3 });
    const t = target(mock.url, mock.apiKey, {}, {}, { connectMs: 1_000, firstByteMs: 300, totalMs: 20_000 });
    const iterable = await anthropicAdapter.stream(ask('x', { stream: true }), t, ctx());
    const err = await failure(collect(iterable));
    assert.equal(err.code, 'timeout');
  });

  test('a hung upstream is a timeout; a slow one still answers', async () => {
    const quick = { connectMs: 1_000, firstByteMs: 300, totalMs: 20_000 };
    mock.faults.push({ kind: 'hang' });
    const hung = await failure(
      anthropicAdapter.complete(ask('x'), target(mock.url, mock.apiKey, {}, {}, quick), ctx()),
    );
    assert.equal(hung.code, 'timeout');
    assert.equal(hung.failover, true);
    mock.faults.push({ kind: 'delay', ms: 50 });
    const slow = await anthropicAdapter.complete(ask('late'), target(mock.url, mock.apiKey), ctx());
    assert.equal(slow.choices[0]!.message.content, 'Hello from mock Claude. You said: late');
  });

  test('n > 1 and logprobs are unsupported', () => {
    const t = target(mock.url, mock.apiKey);
    assert.match(anthropicAdapter.unsupportedReason!(ask('x', { n: 2 }), t)!, /n > 1/);
    assert.match(anthropicAdapter.unsupportedReason!(ask('x', { logprobs: true }), t)!, /logprobs/);
    assert.equal(anthropicAdapter.unsupportedReason!(ask('x'), t), undefined);
  });
});

describe('Anthropic pass-through', () => {
  function anthropicInbound(body: Record<string, unknown>, headers?: Record<string, string>): ChatRequest {
    return chatRequest({
      stream: body['stream'] === true,
      inbound: headers ? { protocol: 'anthropic-messages', body, headers } : { protocol: 'anthropic-messages', body },
    });
  }

  test('non-streaming: the body goes up with only the model replaced; the answer comes back byte for byte', async () => {
    mock.replay('anthropic-text');
    const body = {
      model: 'fast',
      max_tokens: 300,
      system: 'Be kind',
      messages: [
        {
          role: 'user',
          content: [{ type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'doc' } }],
        },
      ],
      tools: [{ type: 'web_search_20250305', name: 'web_search', max_uses: 1 }],
      metadata: { user_id: 'abc' },
    };
    const result = await anthropicAdapter.passthroughs![0]!.complete(
      anthropicInbound(body, { 'anthropic-beta': 'context-management-2025-06-27', 'anthropic-version': '2026-10-21' }),
      target(mock.url, mock.apiKey, { upstreamName: 'claude-sonnet-4-6' }),
      ctx(),
    );
    const fileBytes = readFileSync(join(ANTHROPIC_FIXTURES_DIR, 'anthropic-text.json'));
    assert.deepEqual(Buffer.from(result.body), fileBytes);
    assert.deepEqual(result.usage, {
      inputTokens: 12,
      cachedInputTokens: 0,
      cacheWriteTokens: 0,
      outputTokens: 29,
      reasoningTokens: 0,
    });
    assert.equal(result.model, 'claude-sonnet-4-5-20250929');
    const sent = mock.requests.at(-1)!;
    assert.deepEqual(sent.body, { ...body, model: 'claude-sonnet-4-6' });
    assert.equal(sent.headers['anthropic-beta'], 'context-management-2025-06-27');
    assert.equal(sent.headers['anthropic-version'], '2026-10-21');
  });

  test('max_tokens is added only when the caller left it out', async () => {
    await anthropicAdapter.passthroughs![0]!.complete(
      anthropicInbound({ model: 'fast', messages: [{ role: 'user', content: 'hi' }] }),
      target(mock.url, mock.apiKey),
      ctx(),
    );
    assert.equal(mock.requests.at(-1)!.body!['max_tokens'], DEFAULT_MAX_TOKENS);
    assert.equal(mock.requests.at(-1)!.headers['anthropic-version'], '2023-06-01');
  });

  test('streaming: frames keep the raw data and event names; usage is metered from them', async () => {
    mock.replay('anthropic-code-execution-20260120-prompt-cache.1');
    const frames: PassthroughFrame[] = await collect(
      await anthropicAdapter.passthroughs![0]!.stream(
        anthropicInbound({ model: 'fast', max_tokens: 100, stream: true, messages: [{ role: 'user', content: 'hi' }] }),
        target(mock.url, mock.apiKey),
        ctx(),
      ),
    );
    const recorded = readFileSync(
      join(ANTHROPIC_FIXTURES_DIR, 'anthropic-code-execution-20260120-prompt-cache.1.chunks.txt'),
      'utf8',
    )
      .split('\n')
      .filter((l) => l.trim() !== '');
    assert.deepEqual(
      frames.map((f) => f.data),
      recorded,
    );
    assert.deepEqual(
      frames.map((f) => f.event),
      recorded.map((l) => (JSON.parse(l) as { type: string }).type),
    );
    const metered = frames.filter((f) => f.usage).at(-1)!.usage;
    assert.deepEqual(metered, {
      inputTokens: 9632,
      cachedInputTokens: 6289,
      cacheWriteTokens: 3337,
      outputTokens: 198,
      reasoningTokens: 0,
    });
    assert.equal(mock.requests.at(-1)!.body!['stream'], true);
  });

  test('streaming: an error event throws, a cut stream throws', async () => {
    mock.enqueue({
      kind: 'events',
      events: [
        ...fixtureEvents('anthropic-text').slice(0, 3),
        { type: 'error', error: { type: 'api_error', message: 'boom' } },
      ],
    });
    const request = anthropicInbound({
      model: 'fast',
      max_tokens: 100,
      stream: true,
      messages: [{ role: 'user', content: 'hi' }],
    });
    const err = await failure(
      collect(await anthropicAdapter.passthroughs![0]!.stream(request, target(mock.url, mock.apiKey), ctx())),
    );
    assert.equal(err.code, 'provider_unavailable');
    assert.equal(err.upstreamStatus, 500);
    mock.faults.push({ kind: 'reset-mid-stream', afterEvents: 5 });
    const cut = await failure(
      collect(await anthropicAdapter.passthroughs![0]!.stream(request, target(mock.url, mock.apiKey), ctx())),
    );
    assert.equal(cut.code, 'provider_unavailable');
  });

  test('count_tokens upstream: only accepted fields are sent', async () => {
    const tokens = await countAnthropicTokens(
      {
        model: 'fast',
        max_tokens: 10,
        stream: true,
        system: 'S',
        messages: [{ role: 'user', content: 'Count these words' }],
      },
      target(mock.url, mock.apiKey),
      ctx(),
    );
    assert.ok(tokens > 0);
    const sent = mock.requests.at(-1)!;
    assert.equal(sent.path, '/v1/messages/count_tokens');
    assert.deepEqual(Object.keys(sent.body!).sort(), ['messages', 'model', 'system']);
  });
});
