import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { createLogger } from '../../src/ops/logger.ts';
import { providerKey } from '../../src/providers/provider-key.ts';
import { adapterFor } from '../../src/providers/registry.ts';
import type { ProviderAdapter, ProviderSpec, UpstreamTarget } from '../../src/providers/types.ts';
import { mockProvider, TEST_API_KEY, type TestGateway } from '../helpers/gateway.ts';
import { MOCK_API_KEY, type MockOpenAI, startMockOpenAI } from '../mocks/openai-compatible.ts';
import { chat, startTenancyGateway } from '../tenancy/helpers.ts';

/**
 * Hostile-test finding: any internal error after routing logged the error with its upstream target, and with
 * it `target.provider.keys[0].secret` (the operator's key) or `target.key.secret` (a caller's own key). Errors
 * are forced at every stage with known keys, and every log line is searched for every secret.
 */
const OWN_KEY = 'sk-byok-logs-0123456789abcdefghijklmnopqrstu';
const ADMIN_PASSWORD = 'test-admin-password-123';

type Breakage = 'none' | 'throw' | 'throw-with-fields' | 'throw-mid-stream';

function brokenAdapter(real: ProviderAdapter, how: () => Breakage): ProviderAdapter {
  const fail = (target: UpstreamTarget): never => {
    const err = new TypeError('adapter bug: cannot read properties of undefined');
    if (how() === 'throw-with-fields') {
      // What a careless library error could carry: the request it made, headers included.
      Object.assign(err, { target, request: { headers: { authorization: `Bearer ${target.key.secret}` } } });
    }
    throw err;
  };
  return {
    wire: real.wire,
    unsupportedReason: real.unsupportedReason?.bind(real),
    async complete(request, target, ctx) {
      if (how() === 'none') return real.complete(request, target, ctx);
      return fail(target);
    },
    async stream(request, target, ctx) {
      const mode = how();
      if (mode === 'none') return real.stream(request, target, ctx);
      if (mode !== 'throw-mid-stream') return fail(target);
      const inner = await real.stream(request, target, ctx);
      return (async function* () {
        let n = 0;
        for await (const event of inner) {
          yield event;
          if (++n === 2) fail(target);
        }
      })();
    },
  };
}

describe('secrets never reach the logs', () => {
  let upstream: MockOpenAI;
  let gw: TestGateway;
  let breakage: Breakage = 'none';

  before(async () => {
    upstream = await startMockOpenAI({ apiKeys: [MOCK_API_KEY, OWN_KEY] });
    gw = await startTenancyGateway(
      {
        demo: { enabled: false },
        tenancy: { byok: { enabled: true } },
        providers: [mockProvider('openai', upstream.url, [{ name: 'gpt-4o-mini', qualityRank: 70 }])],
        routing: { maxAttempts: 2 },
      },
      {},
      { adapterFor: (provider: ProviderSpec) => brokenAdapter(adapterFor(provider), () => breakage) },
    );
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  const secrets = [MOCK_API_KEY, OWN_KEY, TEST_API_KEY, ADMIN_PASSWORD];
  /** Searches the log lines written since `from` (each test its own). */
  function assertClean(stage: string, from: number) {
    const text = gw.logs.slice(from).join('');
    for (const secret of secrets) {
      // The whole secret and any long part of it (a key cut by a message length limit).
      for (const needle of [secret, secret.slice(4, 24), secret.slice(-20)]) {
        assert.ok(!text.includes(needle), `${stage}: a secret (${secret.slice(0, 7)}…) is in the logs`);
      }
    }
  }
  const stream = { ...chatBody(), stream: true };

  for (const [stage, mode, body] of [
    ['an adapter bug on a completion', 'throw', chatBody()],
    ['an adapter bug whose error carries the target and request headers', 'throw-with-fields', chatBody()],
    ['an adapter bug before a stream starts', 'throw', stream],
    ['an adapter bug in the middle of a stream', 'throw-mid-stream', stream],
  ] as const) {
    test(`${stage}: operator key and caller's own key`, async () => {
      breakage = mode;
      const logsBefore = gw.logs.length;
      for (const token of [TEST_API_KEY, OWN_KEY]) {
        const res = await chat(gw, token, body);
        await res.text();
        if (mode !== 'throw-mid-stream') assert.equal(res.status, 500);
      }
      breakage = 'none';
      if (mode !== 'throw-mid-stream') assert.ok(gw.logs.length > logsBefore, 'the failure was logged');
      assertClean(stage, logsBefore);
    });
  }

  test('upstream errors that echo the key (401, 500, 429) and the circuit breaker that follows', async () => {
    const echo = (status: number, key: string) => ({
      kind: 'status' as const,
      status,
      body: { error: { message: `Incorrect API key provided: ${key}. Authorization: Bearer ${key}`, type: 'x' } },
    });
    const logsBefore = gw.logs.length;
    for (const token of [TEST_API_KEY, OWN_KEY]) {
      const key = token === OWN_KEY ? OWN_KEY : MOCK_API_KEY;
      upstream.faults.push(echo(401, key), echo(500, key), echo(500, key), echo(429, key), echo(500, key));
      for (let i = 0; i < 3; i++) await (await chat(gw, token)).text();
    }
    upstream.reset();
    assert.ok(gw.logs.length > logsBefore, 'the failures were logged');
    assertClean('upstream errors', logsBefore);
  });

  test('the structural scrub: a logged object with credentials at any depth, and an error cause chain', () => {
    const lines: string[] = [];
    const logger = createLogger(
      'info',
      new Writable({
        write(chunk, _enc, cb) {
          lines.push(String(chunk));
          cb();
        },
      }),
    );
    const key = providerKey('k1', 'sk-structural-0123456789abcdefghij', {
      secretAccessKey: 'aws-secret-value-0123456789',
    });
    const cause = Object.assign(new Error('socket hang up'), {
      config: { headers: { 'x-api-key': 'hidden-in-cause-1234567' } },
    });
    logger.error(
      {
        err: Object.assign(new Error('wrapped', { cause }), { target: { key } }),
        deep: { a: { b: { c: { password: 'p@ssw0rd-hunter2', keys: [key], apiKey: 'plain-api-key-value-123' } } } },
        spread: { ...key },
        keyObject: key,
      },
      'boom',
    );
    const text = lines.join('');
    for (const secret of [
      'sk-structural',
      'aws-secret-value',
      'hidden-in-cause',
      'p@ssw0rd-hunter2',
      'plain-api-key-value',
    ]) {
      assert.ok(!text.includes(secret), `${secret} leaked: ${text}`);
    }
    const line = JSON.parse(lines[0]!) as {
      err: { message: string; cause: { message: string } };
      keyObject: { id: string };
    };
    assert.equal(line.err.message, 'wrapped');
    assert.equal(line.err.cause.message, 'socket hang up', 'the cause chain is kept, its extra fields are not');
    assert.equal(line.keyObject.id, 'k1', 'a key logs as its id');
    assert.equal(key.secret, 'sk-structural-0123456789abcdefghij', 'code that asks for the secret still gets it');
  });
});

function chatBody() {
  return { model: 'fast', messages: [{ role: 'user' as const, content: 'hello' }] };
}
