import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { findUsageRecord } from '../../src/store/usage-queries.ts';
import { mockProvider, startGateway, type TestGateway } from '../helpers/gateway.ts';
import { type MockOpenAI, startMockOpenAI } from '../mocks/openai-compatible.ts';
import { waitFor } from '../tenancy/helpers.ts';

/**
 * Circuit breakers seen through real traffic, as a client and an operator see them: which upstream gets a
 * request, the X-Model-Router-* headers, `modro_circuit_state` on GET /metrics, the usage record. Two
 * providers serve the `fast` tier; `a` (cheaper, one key) goes first, `b` is the fallback. A circuit opens
 * after `failureThreshold` (2) consecutive failures, rests `cooldownMs`, then lets one probe through.
 * Each test starts its own gateway, so no circuit state leaks from one test to the next.
 */
const THRESHOLD = 2;
const COOLDOWN_MS = 1_500;
const FIRST_BYTE_MS = 500;

describe('circuits through traffic', () => {
  let a: MockOpenAI;
  let b: MockOpenAI;
  let gw: TestGateway;

  before(async () => {
    a = await startMockOpenAI();
    b = await startMockOpenAI();
  });
  afterEach(async () => {
    await gw?.close();
    a.reset();
    b.reset();
  });
  after(async () => {
    await a.close();
    await b.close();
  });

  async function start(): Promise<TestGateway> {
    const timeouts = { connectMs: 1_000, firstByteMs: FIRST_BYTE_MS, totalMs: 5_000 };
    gw = await startGateway({
      providers: [
        mockProvider('a', a.url, [{ name: 'gpt-4o-mini', qualityRank: 70, price: { input: 0.1, output: 0.2 } }], {
          timeouts,
        }),
        mockProvider('b', b.url, [{ name: 'gpt-4o-mini', qualityRank: 70, price: { input: 1, output: 2 } }], {
          timeouts,
        }),
      ],
      routing: { maxAttempts: 4 },
      health: { failureThreshold: THRESHOLD, cooldownMs: COOLDOWN_MS },
    });
    return gw;
  }

  /** One chat request; what the client saw. */
  async function ask(path = '/v1/chat/completions') {
    const body =
      path === '/v1/messages'
        ? { model: 'fast', max_tokens: 64, messages: [{ role: 'user', content: 'hello' }] }
        : { model: 'fast', messages: [{ role: 'user', content: 'hello' }] };
    const res = await gw.post(path, body, { 'anthropic-version': '2023-06-01' });
    return {
      status: res.status,
      provider: res.headers.get('x-model-router-provider'),
      attempts: res.headers.get('x-model-router-attempts'),
      requestId: res.headers.get('x-request-id')!,
      body: (await res.json()) as Record<string, unknown>,
    };
  }

  test('consecutive 5xx: the circuit opens at the threshold, not before, and the provider is then skipped', async () => {
    await start();
    assert.equal(await circuitState(gw, 'a'), 'closed');
    for (let i = 1; i < THRESHOLD; i++) {
      a.faults.push({ kind: 'status', status: 500 });
      const r = await ask();
      assert.deepEqual([r.status, r.provider, r.attempts], [200, 'b', '2'], 'a failed, b served');
      assert.equal(await circuitState(gw, 'a'), 'closed', `still closed after ${i} failure(s)`);
    }
    a.faults.push({ kind: 'status', status: 503 });
    const opening = await ask();
    assert.equal(a.requests.length, THRESHOLD, 'a was still tried below the threshold');
    assert.deepEqual([opening.status, opening.provider, opening.attempts], [200, 'b', '2']);
    assert.equal(await circuitState(gw, 'a'), 'open');

    // Open: a gets no request at all; b serves in one attempt.
    for (let i = 0; i < 3; i++) {
      const r = await ask();
      assert.deepEqual([r.status, r.provider, r.attempts], [200, 'b', '1']);
    }
    assert.equal(a.requests.length, THRESHOLD, 'an open circuit sends nothing upstream');
  });

  test('timeouts open the circuit like 5xx do', async () => {
    await start();
    a.faults.push({ kind: 'hang' });
    let r = await ask();
    assert.deepEqual([r.status, r.provider, r.attempts], [200, 'b', '2'], 'a timed out, b served');
    assert.equal(await circuitState(gw, 'a'), 'closed', 'one timeout is below the threshold');
    a.faults.push({ kind: 'hang' });
    r = await ask();
    assert.deepEqual([r.status, r.provider, r.attempts], [200, 'b', '2']);
    assert.equal(await circuitState(gw, 'a'), 'open');
    r = await ask();
    assert.deepEqual([r.status, r.provider, r.attempts], [200, 'b', '1']);
    assert.equal(a.requests.length, 2, 'skipped while open');
  });

  test('a success between failures resets the count: failures must be consecutive', async () => {
    await start();
    for (let i = 0; i < 3; i++) {
      a.faults.push({ kind: 'status', status: 500 });
      assert.equal((await ask()).provider, 'b');
      assert.equal((await ask()).provider, 'a', 'a success on a');
    }
    assert.equal(await circuitState(gw, 'a'), 'closed');
  });

  test('after the cooldown one probe goes through (half-open); its success closes the circuit', async () => {
    await start();
    await openCircuitOfA();
    await sleep(COOLDOWN_MS + 100);
    // The probe is slow (under the first-byte timeout), so a second request arrives while it is in flight: it
    // must not be a second probe.
    a.faults.push({ kind: 'delay', ms: 450 });
    const probe = ask();
    await waitFor(() => a.requests.length === THRESHOLD + 1, 'the probe reaching a');
    assert.equal(await circuitState(gw, 'a'), 'half-open');
    const during = await ask();
    assert.deepEqual([during.provider, during.attempts], ['b', '1'], 'one probe at a time; others go on to b');
    const probed = await probe;
    assert.deepEqual([probed.status, probed.provider, probed.attempts], [200, 'a', '1']);
    assert.equal(await circuitState(gw, 'a'), 'closed');
    const next = await ask();
    assert.equal(next.provider, 'a', 'closed again: a serves');
    assert.equal(a.requests.length, THRESHOLD + 2);
  });

  test('a failed probe opens the circuit again for another cooldown', async () => {
    await start();
    await openCircuitOfA();
    await sleep(COOLDOWN_MS + 100);
    a.faults.push({ kind: 'status', status: 502 });
    const probe = await ask();
    assert.deepEqual([probe.status, probe.provider, probe.attempts], [200, 'b', '2'], 'the probe failed, b served');
    assert.equal(a.requests.length, THRESHOLD + 1);
    assert.equal(await circuitState(gw, 'a'), 'open', 'one failed probe reopens it (no threshold to reach)');
    const r = await ask();
    assert.deepEqual([r.provider, r.attempts], ['b', '1']);
    assert.equal(a.requests.length, THRESHOLD + 1, 'skipped again');
  });

  test('every candidate’s circuit open: 503 provider_unavailable "all circuits open", no upstream call, recorded', async () => {
    await start();
    a.faults.sticky = { kind: 'status', status: 500 };
    b.faults.sticky = { kind: 'status', status: 503 };
    for (let i = 0; i < THRESHOLD; i++) {
      const r = await ask();
      assert.equal(r.status, 503);
      assert.equal(r.attempts, '2');
    }
    assert.equal(await circuitState(gw, 'a'), 'open');
    assert.equal(await circuitState(gw, 'b'), 'open');
    const upstreamCalls = a.requests.length + b.requests.length;

    const openai = await ask();
    assert.equal(openai.status, 503);
    const error = openai.body['error'] as { code: string; type: string; retryable: boolean; message: string };
    assert.equal(error.code, 'provider_unavailable');
    assert.equal(error.type, 'api_error');
    assert.equal(error.retryable, true);
    assert.match(error.message, /all circuits open/);
    assert.equal(openai.attempts, null, 'no attempt was made');
    assert.equal(openai.provider, null);

    const anthropic = await ask('/v1/messages');
    assert.equal(anthropic.status, 503);
    assert.equal(anthropic.body['type'], 'error');
    const envelope = anthropic.body['error'] as { type: string; message: string };
    assert.equal(envelope.type, 'overloaded_error');
    assert.match(envelope.message, /all circuits open/);

    assert.equal(a.requests.length + b.requests.length, upstreamCalls, 'nothing was sent upstream');
    await gw.runtime.usage.flush();
    for (const requestId of [openai.requestId, anthropic.requestId]) {
      const record = await findUsageRecord(gw.runtime.store.db, requestId);
      assert.ok(record, 'the refused request is recorded');
      assert.equal(record.status, 503);
      assert.equal(record.errorCode, 'provider_unavailable');
      assert.equal(record.attempts, 0);
      assert.equal(record.providerId, null);
    }
  });

  /** Two 5xx on a: its circuit is open (b served both). */
  async function openCircuitOfA() {
    for (let i = 0; i < THRESHOLD; i++) {
      a.faults.push({ kind: 'status', status: 500 });
      assert.equal((await ask()).provider, 'b');
    }
    assert.equal(await circuitState(gw, 'a'), 'open');
    assert.equal(a.requests.length, THRESHOLD);
  }
});

/** The state whose `modro_circuit_state` gauge is 1 for a provider's only key (`<provider>#1`), from GET /metrics. */
async function circuitState(gw: TestGateway, provider: string): Promise<string> {
  const text = await (await fetch(`${gw.url}/metrics`)).text();
  const line = new RegExp(
    `^modro_circuit_state\\{provider="${provider}",key="${provider}#1",state="([a-z-]+)"\\} 1$`,
    'm',
  );
  const match = line.exec(text);
  assert.ok(match, `no circuit state for ${provider} in /metrics`);
  return match[1]!;
}
