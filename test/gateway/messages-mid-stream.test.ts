import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import Anthropic, { APIError } from '@anthropic-ai/sdk';
import { findUsageRecord } from '../../src/store/usage-queries.ts';
import { startGateway, TEST_API_KEY, type TestGateway } from '../helpers/gateway.ts';
import { type MockAnthropic, startMockAnthropic } from '../mocks/anthropic.ts';
import type { Fault } from '../mocks/faults.ts';
import { MOCK_API_KEY, type MockOpenAI, startMockOpenAI } from '../mocks/openai-compatible.ts';

/**
 * An upstream failing after the first bytes of a `/v1/messages` stream: the client has a 200 and some events,
 * so failover is over; the stream must end with Anthropic's `event: error` frame (which the Anthropic SDK
 * raises), never with `message_stop` (a clean end would pass a cut answer off as complete), and the usage
 * record carries the error code. Both paths: an OpenAI-kind upstream translated into Anthropic events, and an
 * Anthropic upstream passed through frame by frame.
 */
const FIRST_BYTE_MS = 500;
const PROMPT = 'please write a long answer with many words so that the stream has plenty of events in it';

interface SSEEvent {
  event: string;
  data: Record<string, unknown>;
}

describe('/v1/messages: an upstream failing mid-stream', () => {
  let openai: MockOpenAI;
  let anthropic: MockAnthropic;
  let gw: TestGateway;

  before(async () => {
    openai = await startMockOpenAI();
    anthropic = await startMockAnthropic();
    const model = (name: string) => ({
      name,
      qualityRank: 70,
      contextWindow: 200_000,
      capabilities: { tools: true, vision: true, jsonSchema: true, streaming: true },
    });
    // Short first-byte timeouts, which also bound the wait between two events (a stalled stream).
    const timeouts = { connectMs: 1_000, firstByteMs: FIRST_BYTE_MS, totalMs: 30_000 };
    gw = await startGateway({
      providers: [
        {
          id: 'oai',
          kind: 'openai',
          baseUrl: openai.url,
          keys: [MOCK_API_KEY],
          timeouts,
          models: [model('gpt-4o-mini')],
        },
        {
          id: 'claude',
          kind: 'anthropic',
          baseUrl: anthropic.url,
          keys: [anthropic.apiKey],
          timeouts,
          models: [model('claude-sonnet-4-5')],
        },
      ],
      // One attempt: a failover could hide which upstream failed.
      routing: { maxAttempts: 1 },
    });
  });
  afterEach(() => {
    openai.reset();
    anthropic.faults.clear();
    anthropic.requests.length = 0;
  });
  after(async () => {
    await gw.close();
    await openai.close();
    await anthropic.close();
  });

  const upstreams = [
    { path: 'translated from an OpenAI-kind upstream', model: 'oai/gpt-4o-mini', faults: () => openai.faults },
    {
      path: 'passed through from an Anthropic upstream',
      model: 'claude/claude-sonnet-4-5',
      faults: () => anthropic.faults,
    },
  ];
  const cases: Array<{ name: string; fault: Fault; code: string; type: string }> = [
    {
      name: 'connection reset',
      fault: { kind: 'reset-mid-stream', afterEvents: 4 },
      code: 'provider_unavailable',
      type: 'overloaded_error',
    },
    {
      name: 'malformed event',
      fault: { kind: 'malformed-stream', afterEvents: 4 },
      code: 'provider_unavailable',
      type: 'overloaded_error',
    },
    {
      name: 'stalled stream',
      fault: { kind: 'stall-mid-stream', afterEvents: 4 },
      code: 'timeout',
      type: 'timeout_error',
    },
  ];

  for (const upstream of upstreams) {
    for (const c of cases) {
      test(`${c.name}, ${upstream.path}: event: error, no message_stop, recorded as ${c.code}`, async () => {
        upstream.faults().push(c.fault);
        const { res, events } = await streamMessage(upstream.model);
        assert.equal(res.status, 200, 'the stream had started');
        assert.equal(res.headers.get('x-model-router-model'), upstream.model);
        assertCutWithError(events, c.type);
        await assertRecorded(res, c.code, upstream.model.split('/')[0]!);
      });
    }
  }

  test('an Anthropic upstream’s own `error` event mid-stream (overloaded) reaches the client as one error event', async () => {
    anthropic.enqueue({
      kind: 'events',
      events: [
        messageStart(),
        { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
        { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Half an ans' } },
        { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } },
      ],
    });
    const { res, events } = await streamMessage('claude/claude-sonnet-4-5');
    assert.equal(res.status, 200);
    assertCutWithError(events, 'overloaded_error');
    assert.equal(events.filter((e) => e.event === 'error').length, 1, 'one error event, not the upstream’s and ours');
    await assertRecorded(res, 'provider_unavailable', 'claude');
  });

  test('an Anthropic upstream ending cleanly before message_stop is a cut answer, not a complete one', async () => {
    anthropic.enqueue({
      kind: 'events',
      events: [
        messageStart(),
        { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
        { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Half an ans' } },
      ],
    });
    const { res, events } = await streamMessage('claude/claude-sonnet-4-5');
    assertCutWithError(events, 'overloaded_error');
    await assertRecorded(res, 'provider_unavailable', 'claude');
  });

  for (const upstream of upstreams) {
    test(`the Anthropic SDK raises the error event as an APIError (${upstream.path})`, async () => {
      upstream.faults().push({ kind: 'reset-mid-stream', afterEvents: 4 });
      const client = new Anthropic({ baseURL: gw.url, apiKey: TEST_API_KEY, maxRetries: 0 });
      const stream = await client.messages.create({
        model: upstream.model,
        max_tokens: 256,
        stream: true,
        messages: [{ role: 'user', content: PROMPT }],
      });
      const seen: string[] = [];
      await assert.rejects(
        (async () => {
          for await (const event of stream) seen.push(event.type);
        })(),
        (err: unknown) => {
          assert.ok(err instanceof APIError, `expected an APIError, got ${String(err)}`);
          assert.equal((err.error as { error?: { type?: string } }).error?.type, 'overloaded_error');
          return true;
        },
      );
      assert.equal(seen[0], 'message_start', 'events arrived before the failure');
      assert.ok(!seen.includes('message_stop'));
    });
  }

  /** POST /v1/messages with stream: true; the response and its events in order. */
  async function streamMessage(model: string): Promise<{ res: Response; events: SSEEvent[] }> {
    const res = await gw.post(
      '/v1/messages',
      { model, max_tokens: 256, stream: true, messages: [{ role: 'user', content: PROMPT }] },
      { 'anthropic-version': '2023-06-01' },
    );
    return { res, events: parseSSE(await res.text()) };
  }

  async function assertRecorded(res: Response, code: string, provider: string) {
    await gw.runtime.usage.flush();
    const record = await findUsageRecord(gw.runtime.store.db, res.headers.get('request-id')!);
    assert.ok(record, 'the cut stream is recorded');
    assert.equal(record.errorCode, code);
    assert.equal(record.status, 200, 'an error event after a 200, not a client that left');
    assert.equal(record.providerId, provider);
    assert.equal(record.protocol, 'anthropic-messages');
  }
});

/** Content first, then exactly one terminal `error` event in Anthropic's envelope; no `message_stop`. */
function assertCutWithError(events: SSEEvent[], type: string) {
  assert.equal(events[0]?.event, 'message_start', 'the stream had started');
  assert.ok(
    events.some((e) => e.event === 'content_block_delta'),
    `content before the failure: ${events.map((e) => e.event).join(', ')}`,
  );
  const last = events.at(-1)!;
  assert.equal(last.event, 'error', `the stream ends with an error event: ${events.map((e) => e.event).join(', ')}`);
  assert.equal(last.data['type'], 'error');
  const error = last.data['error'] as { type: string; message: string };
  assert.equal(error.type, type);
  assert.ok(error.message.length > 0);
  assert.ok(!events.some((e) => e.event === 'message_stop'), 'no message_stop after a failure');
  assert.ok(!events.some((e) => e.event === 'message_delta'), 'no final message_delta (stop reason) either');
}

function parseSSE(text: string): SSEEvent[] {
  return text
    .split('\n\n')
    .filter((block) => block.trim() !== '')
    .map((block) => {
      const event = /^event: (.*)$/m.exec(block)?.[1] ?? 'message';
      const data = /^data: (.*)$/m.exec(block)?.[1] ?? '{}';
      return { event, data: JSON.parse(data) as Record<string, unknown> };
    });
}

function messageStart() {
  return {
    type: 'message_start',
    message: {
      id: 'msg_mock_cut',
      type: 'message',
      role: 'assistant',
      model: 'claude-sonnet-4-5',
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: { input_tokens: 12, output_tokens: 1 },
    },
  };
}
