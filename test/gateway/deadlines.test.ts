import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import type { ConfigInput } from '../../src/config/schema.ts';
import { findUsageRecord } from '../../src/store/usage-queries.ts';
import { mockProvider, readSSEData, startGateway, type TestGateway } from '../helpers/gateway.ts';
import { MOCK_API_KEY, type MockOpenAI, startMockOpenAI } from '../mocks/openai-compatible.ts';

/**
 * `routing.maxAttempts` and `routing.maxTotalMs` through real traffic: the bounds on one request's failover
 * sequence, across a provider's keys and across candidates. Three providers serve the `fast` tier, tried in
 * price order: `a` (two keys), `b`, then `c`, which always answers, so a request that got past a bound would
 * succeed there. Each test starts its own gateway (fresh circuits).
 */
const SECOND_KEY = 'sk-mock-second-key-abcdefghijklmnopqrstuvwxyz';
const CHAT = { model: 'fast', messages: [{ role: 'user', content: 'hello' }] };

describe('failover bounds', () => {
  let a: MockOpenAI;
  let b: MockOpenAI;
  let c: MockOpenAI;
  let gw: TestGateway | undefined;

  before(async () => {
    a = await startMockOpenAI({ apiKeys: [MOCK_API_KEY, SECOND_KEY] });
    b = await startMockOpenAI();
    c = await startMockOpenAI();
  });
  afterEach(async () => {
    await gw?.close();
    gw = undefined;
    for (const mock of [a, b, c]) {
      mock.reset();
      mock.options.chunkDelayMs = 0;
    }
  });
  after(async () => {
    for (const mock of [a, b, c]) await mock.close();
  });

  async function start(routing: ConfigInput['routing']): Promise<TestGateway> {
    // First-byte timeouts far beyond the deadlines tested: only the routing deadline can end a hung attempt.
    const timeouts = { connectMs: 1_000, firstByteMs: 20_000, totalMs: 30_000 };
    const model = (price: number) => [{ name: 'gpt-4o-mini', qualityRank: 70, price: { input: price, output: price } }];
    gw = await startGateway({
      providers: [
        mockProvider('a', a.url, model(0.1), { keys: [MOCK_API_KEY, SECOND_KEY], timeouts }),
        mockProvider('b', b.url, model(0.2), { timeouts }),
        mockProvider('c', c.url, model(0.3), { timeouts }),
      ],
      routing,
      health: { failureThreshold: 5, cooldownMs: 60_000 },
    });
    return gw;
  }

  async function record(requestId: string) {
    await gw!.runtime.usage.flush();
    const found = await findUsageRecord(gw!.runtime.store.db, requestId);
    assert.ok(found, 'the request is recorded');
    return found;
  }

  for (const stream of [false, true]) {
    const kind = stream ? 'a stream' : 'a completion';

    test(`maxAttempts counts every key and candidate tried (${kind})`, async () => {
      // a's two keys are rate limited (the next key of a is tried), then b fails (the next candidate).
      const failAll = () => {
        a.faults.push({ kind: 'status', status: 429 }, { kind: 'status', status: 429 });
        b.faults.push({ kind: 'status', status: 500 });
      };
      const gateway = await start({ maxAttempts: 3 });
      failAll();
      const res = await gateway.post('/v1/chat/completions', { ...CHAT, stream });
      assert.equal(res.status, 503);
      const body = (await res.json()) as { error: { code: string; message: string } };
      assert.equal(body.error.code, 'provider_unavailable');
      assert.match(body.error.message, /All 3 attempts failed/);
      assert.equal(res.headers.get('x-model-router-attempts'), '3');
      assert.equal(a.requests.length, 2);
      assert.deepEqual(
        new Set(a.requests.map((r) => r.headers['authorization'])),
        new Set([`Bearer ${MOCK_API_KEY}`, `Bearer ${SECOND_KEY}`]),
        'both keys of a were tried',
      );
      assert.equal(b.requests.length, 1);
      assert.equal(c.requests.length, 0, 'the bound stopped the sequence before c, which would have answered');
      const row = await record(res.headers.get('x-request-id')!);
      assert.deepEqual([row.attempts, row.status, row.errorCode], [3, 503, 'provider_unavailable']);

      // The same failures with one attempt more: c serves, as the fourth attempt.
      await gateway.close();
      for (const mock of [a, b, c]) mock.reset();
      const roomier = await start({ maxAttempts: 4 });
      failAll();
      const served = await roomier.post('/v1/chat/completions', { ...CHAT, stream });
      assert.equal(served.status, 200);
      await served.text();
      assert.equal(served.headers.get('x-model-router-provider'), 'c');
      assert.equal(served.headers.get('x-model-router-attempts'), '4');
    });

    test(`maxTotalMs bounds the whole failover sequence: 504 within the deadline (${kind})`, async () => {
      const MAX_TOTAL_MS = 800;
      const gateway = await start({ maxTotalMs: MAX_TOTAL_MS });
      a.faults.push({ kind: 'status', status: 500 });
      // b accepts and never answers (a stream: sends its headers, then no event).
      b.faults.push(stream ? { kind: 'stall-mid-stream', afterEvents: 0 } : { kind: 'hang' });
      const started = performance.now();
      const res = await gateway.post('/v1/chat/completions', { ...CHAT, stream });
      const body = (await res.json()) as { error: { code: string; type: string; retryable: boolean } };
      const elapsed = performance.now() - started;
      assert.equal(res.status, 504);
      assert.deepEqual([body.error.code, body.error.type, body.error.retryable], ['timeout', 'timeout_error', true]);
      // Behaviour, not speed: without the deadline b would hold the request for its 20 s first-byte timeout
      // and c would then answer. The margin is generous for a loaded machine.
      assert.ok(elapsed >= MAX_TOTAL_MS - 50, `answered after ${Math.round(elapsed)} ms, before the deadline`);
      assert.ok(elapsed < MAX_TOTAL_MS + 3_000, `answered after ${Math.round(elapsed)} ms`);
      assert.equal(b.requests.length, 1, 'b was tried after a failed');
      assert.equal(c.requests.length, 0, 'no attempt after the deadline');
      const row = await record(res.headers.get('x-request-id')!);
      assert.deepEqual([row.status, row.errorCode], [504, 'timeout']);
      assert.ok(row.attempts >= 2, `${row.attempts} attempts recorded`);
    });
  }

  test('maxTotalMs ends at a stream’s first byte: a stream may run longer than the deadline', async () => {
    const MAX_TOTAL_MS = 500;
    const gateway = await start({ maxTotalMs: MAX_TOTAL_MS });
    a.options.chunkDelayMs = 100;
    const started = performance.now();
    const res = await gateway.post('/v1/chat/completions', {
      model: 'fast',
      stream: true,
      messages: [{ role: 'user', content: 'a long streamed answer with many words, more than a few chunks of it' }],
    });
    assert.equal(res.status, 200);
    const events = await readSSEData(res);
    const elapsed = performance.now() - started;
    assert.ok(elapsed > MAX_TOTAL_MS, `the stream took only ${Math.round(elapsed)} ms: make the answer longer`);
    assert.equal(events.at(-1), '[DONE]', 'the stream finished although it outlived the deadline');
    assert.ok(!events.some((e) => e.includes('"error"')));
    assert.equal(res.headers.get('x-model-router-provider'), 'a');
  });
});
