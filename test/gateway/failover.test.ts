import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, afterEach, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { APIError } from 'openai';
import { mockProvider, readSSEData, startGateway, TEST_API_KEY, type TestGateway } from '../helpers/gateway.ts';
import { MOCK_API_KEY, type MockOpenAI, startMockOpenAI } from '../mocks/openai-compatible.ts';

/**
 * Failover: a retryable failure (connection, timeout, 429, 5xx) moves to the next key or candidate; a stream
 * fails over only before its first byte, and after that ends in an OpenAI error event, never a clean close.
 * Two mock providers serve the `fast` tier; `primary` is preferred (cheaper at the same rank).
 */
describe('failover', () => {
  let primary: MockOpenAI;
  let secondary: MockOpenAI;
  let gw: TestGateway;
  const SECOND_KEY = 'sk-mock-second-key-abcdefghijklmnopqrstuvwxyz';

  before(async () => {
    primary = await startMockOpenAI({ apiKeys: [MOCK_API_KEY, SECOND_KEY] });
    secondary = await startMockOpenAI();
    gw = await startGateway({
      providers: [
        mockProvider(
          'primary',
          primary.url,
          [{ name: 'gpt-4o-mini', qualityRank: 70, price: { input: 0.1, output: 0.2 } }],
          {
            keys: [MOCK_API_KEY, SECOND_KEY],
            timeouts: { connectMs: 1_000, firstByteMs: 700, totalMs: 5_000 },
          },
        ),
        mockProvider(
          'secondary',
          secondary.url,
          [{ name: 'gpt-4o-mini', qualityRank: 70, price: { input: 1, output: 2 } }],
          {
            timeouts: { connectMs: 1_000, firstByteMs: 700, totalMs: 5_000 },
          },
        ),
      ],
      routing: { maxAttempts: 4 },
      health: { failureThreshold: 3, cooldownMs: 60_000 },
    });
  });
  afterEach(() => {
    gw.runtime.health.reset();
    primary.reset();
    primary.faults.clear();
    secondary.reset();
    secondary.faults.clear();
  });
  after(async () => {
    await gw.close();
    await primary.close();
    await secondary.close();
  });

  async function ask(stream = false) {
    return gw.client.chat.completions
      .create({ model: 'fast', messages: [{ role: 'user', content: 'hello' }], stream: false })
      .withResponse()
      .then((r) => ({ ...r, stream }));
  }

  test('a 500 from the preferred provider fails over to the next candidate', async () => {
    primary.faults.push({ kind: 'status', status: 500 });
    const { response } = await ask();
    assert.equal(response.headers.get('x-model-router-provider'), 'secondary');
    assert.equal(response.headers.get('x-model-router-attempts'), '2');
    assert.equal(primary.requests.length, 1);
    assert.equal(secondary.requests.length, 1);
  });

  test('a 429 on one key moves to the provider’s next key before leaving the provider', async () => {
    primary.faults.push({ kind: 'status', status: 429 });
    const { response } = await ask();
    assert.equal(response.headers.get('x-model-router-provider'), 'primary');
    assert.equal(primary.requests.length, 2);
    const keys = primary.requests.map((r) => r.headers['authorization']);
    assert.notEqual(keys[0], keys[1], 'the second attempt must use the other key');
  });

  test('a slow first byte (timeout) and a reset connection both fail over', async () => {
    primary.faults.push({ kind: 'delay', ms: 1_500 });
    let { response } = await ask();
    assert.equal(response.headers.get('x-model-router-provider'), 'secondary');
    primary.faults.push({ kind: 'reset' });
    ({ response } = await ask());
    assert.equal(response.headers.get('x-model-router-provider'), 'secondary');
  });

  test('upstream garbage (200 with a non-JSON body) fails over', async () => {
    primary.faults.push({ kind: 'garbage-body' });
    const { response } = await ask();
    assert.equal(response.headers.get('x-model-router-provider'), 'secondary');
  });

  test('a 400 (the request’s own fault) does not fail over', async () => {
    primary.faults.push({
      kind: 'status',
      status: 400,
      body: {
        error: {
          message: "Invalid value for 'temperature'",
          type: 'invalid_request_error',
          param: 'temperature',
          code: null,
        },
      },
    });
    await assert.rejects(ask(), (err: unknown) => {
      assert.ok(err instanceof APIError);
      assert.equal(err.status, 400);
      assert.equal((err.error as { code: string }).code, 'invalid_request');
      return true;
    });
    assert.equal(secondary.requests.length, 0);
  });

  test('a context-length 400 fails over (another candidate may have a larger window)', async () => {
    primary.faults.push({ kind: 'status', status: 400 });
    const { response } = await ask();
    assert.equal(response.headers.get('x-model-router-provider'), 'secondary');
  });

  test('when every candidate fails the client gets a retryable provider_unavailable', async () => {
    primary.faults.push({ kind: 'status', status: 503 }, { kind: 'status', status: 503 });
    secondary.faults.push({ kind: 'status', status: 502 });
    const res = await gw.post('/v1/chat/completions', { model: 'fast', messages: [{ role: 'user', content: 'x' }] });
    assert.equal(res.status, 503);
    const body = (await res.json()) as { error: { code: string; retryable: boolean; message: string } };
    assert.equal(body.error.code, 'provider_unavailable');
    assert.equal(body.error.retryable, true);
    assert.match(body.error.message, /attempts failed/);
  });

  test('a stream fails over before its first byte', async () => {
    primary.faults.push({ kind: 'status', status: 503 });
    const res = await gw.post('/v1/chat/completions', {
      model: 'fast',
      stream: true,
      messages: [{ role: 'user', content: 'stream me' }],
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-model-router-provider'), 'secondary');
    const events = await readSSEData(res);
    assert.equal(events.at(-1), '[DONE]');
  });

  test('a stream cut after its first byte ends with an error event, and the SDK raises it', async () => {
    primary.faults.push({ kind: 'reset-mid-stream', afterEvents: 2 });
    const stream = await gw.client.chat.completions.create({
      model: 'fast',
      stream: true,
      messages: [{ role: 'user', content: 'a long answer please' }],
    });
    let received = 0;
    await assert.rejects(
      (async () => {
        for await (const _chunk of stream) received++;
      })(),
      (err: unknown) => {
        assert.ok(err instanceof APIError, `expected APIError, got ${String(err)}`);
        return true;
      },
    );
    assert.ok(received >= 1);
    assert.equal(secondary.requests.length, 0, 'no failover after the first byte');
  });

  test('malformed SSE mid-stream ends with an error event, never [DONE]', async () => {
    primary.faults.push({ kind: 'malformed-stream', afterEvents: 1 });
    const res = await gw.post('/v1/chat/completions', {
      model: 'fast',
      stream: true,
      messages: [{ role: 'user', content: 'stream please' }],
    });
    const events = await readSSEData(res);
    assert.notEqual(events.at(-1), '[DONE]');
    const last = JSON.parse(events.at(-1)!) as { error: { code: string; retryable: boolean } };
    assert.equal(last.error.code, 'provider_unavailable');
    assert.equal(last.error.retryable, true);
  });

  test('a key answering 401 leaves rotation, shows in metrics, and the client never sees the upstream key', async () => {
    primary.faults.push({ kind: 'status', status: 401 });
    const { response } = await ask();
    assert.equal(response.headers.get('x-model-router-provider'), 'primary', 'the other key of primary serves');
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    assert.match(metrics, /modro_circuit_state\{provider="primary",key="primary#\d",state="rejected"\} 1/);
    // The rejected key is skipped from now on: the next requests all use the remaining key.
    primary.reset();
    await ask();
    await ask();
    const used = new Set(primary.requests.map((r) => r.headers['authorization']));
    assert.equal(used.size, 1);
    for (const line of gw.logs) {
      assert.ok(!line.includes(MOCK_API_KEY) && !line.includes(SECOND_KEY), 'a provider key reached the logs');
    }
  });
});

describe('a client that goes away mid-call', () => {
  test('cancels the upstream call, is recorded as 499, and does not count against the provider', async () => {
    const seen: string[] = [];
    const upstream = createServer((req, res) => {
      seen.push('request');
      req.resume();
      res.on('close', () => {
        if (!res.writableFinished) seen.push('closed before an answer');
      });
      // Never answers: only the gateway can end this call.
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const origin = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    const gw = await startGateway({
      providers: [
        mockProvider('slow', `${origin}/v1`, [{ name: 'gpt-4o-mini', qualityRank: 70 }], {
          timeouts: { connectMs: 1_000, firstByteMs: 30_000, totalMs: 30_000 },
        }),
      ],
    });
    try {
      const controller = new AbortController();
      const cancelled = fetch(`${gw.url}/v1/chat/completions`, {
        method: 'POST',
        signal: controller.signal,
        headers: { authorization: `Bearer ${TEST_API_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'fast', messages: [{ role: 'user', content: 'goodbye' }] }),
      }).catch((err: Error) => err.name);
      while (!seen.includes('request')) await sleep(20);
      controller.abort();
      assert.equal(await cancelled, 'AbortError');
      for (let i = 0; i < 100 && !seen.includes('closed before an answer'); i++) await sleep(20);
      assert.ok(seen.includes('closed before an answer'), `upstream saw: ${seen.join(', ')}`);
      let rows: Array<{ status: number; error_code_id: number | null }> = [];
      for (let i = 0; i < 100 && rows.length === 0; i++) {
        await sleep(20);
        rows = await gw.runtime.store.db
          .selectFrom('usage_record')
          .select(['status', 'error_code_id'])
          .where('status', '=', 499)
          .execute();
      }
      assert.deepEqual(rows, [{ status: 499, error_code_id: null }]);
      const [slowKey] = gw.runtime.health.snapshot(gw.runtime.catalog.providers.values());
      assert.equal(slowKey?.consecutiveFailures, 0);
      assert.equal(slowKey?.state, 'closed');
    } finally {
      upstream.closeAllConnections();
      upstream.close();
      await gw.close();
    }
  });
});
