import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { mockProvider, startGateway, TEST_API_KEY, type TestGateway } from '../helpers/gateway.ts';
import { MOCK_API_KEY, type MockOpenAI, startMockOpenAI } from '../mocks/openai-compatible.ts';

/**
 * Hostile-test finding: `requestTimeout: 0` and bodies read before authentication. 40 unauthenticated
 * connections each declaring 10 MB, sending 9 MB and stalling held 360 MB for over 100 s. Now the caller is
 * identified from the headers before the body is read, slow requests time out, and the bodies of callers no
 * provider has verified share a bounded budget.
 */
interface RawExchange {
  socket: Socket;
  /** Everything the server sent, once it closed the connection. */
  closed: Promise<string>;
}

function rawRequest(url: string, head: string, bodyBytes: number): RawExchange {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  let received = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk) => {
    received += chunk;
  });
  const closed = new Promise<string>((resolve) => {
    socket.on('close', () => resolve(received));
    socket.on('error', () => {});
  });
  socket.write(head);
  if (bodyBytes > 0) socket.write(Buffer.alloc(bodyBytes, 0x20));
  return { socket, closed };
}

const post = (path: string, headers: Record<string, string>, length: number) =>
  `POST ${path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${length}\r\n${Object.entries(
    headers,
  )
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('')}\r\n`;

function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms)),
  ]);
}

describe('slow and unauthenticated request bodies', () => {
  let upstream: MockOpenAI;
  let gw: TestGateway;

  before(async () => {
    upstream = await startMockOpenAI({ apiKeys: [MOCK_API_KEY] });
    gw = await startGateway({
      server: { requestTimeoutMs: 1_500, headersTimeoutMs: 1_000 },
      limits: { unverifiedBodyBytes: 1_000_000 },
      tenancy: { byok: { enabled: true } },
      demo: { enabled: false },
      providers: [mockProvider('openai', upstream.url, [{ name: 'gpt-4o-mini', qualityRank: 70 }])],
    });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  test('40 unauthenticated 10 MB uploads that stall: each refused with 401 on its headers and disconnected', async () => {
    const exchanges = Array.from({ length: 40 }, (_, i) =>
      rawRequest(
        gw.url,
        post(i % 2 ? '/v1/messages' : '/v1/chat/completions', { authorization: 'Bearer wrong-key' }, 10_000_000),
        64 * 1024,
      ),
    );
    const answers = await within(5_000, 'refusals', Promise.all(exchanges.map((e) => e.closed)));
    for (const text of answers) {
      assert.match(text, /^HTTP\/1\.1 401 /);
      assert.match(text, /connection: close/i);
      assert.match(text, /"authentication_failed"|"authentication_error"/);
    }
  });

  test('an authenticated body that stalls is cut after server.requestTimeoutMs with 408', async () => {
    const started = performance.now();
    const slow = rawRequest(
      gw.url,
      post('/v1/chat/completions', { authorization: `Bearer ${TEST_API_KEY}` }, 5_000_000),
      1024,
    );
    const text = await within(6_000, 'request timeout', slow.closed);
    assert.ok(performance.now() - started >= 1_400, 'not before the timeout');
    assert.match(text, /^HTTP\/1\.1 408 /);
  });

  test('headers that trickle in are cut after server.headersTimeoutMs', async () => {
    const { hostname, port } = new URL(gw.url);
    const socket = connect(Number(port), hostname);
    socket.on('error', () => {});
    socket.write('POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\n');
    let received = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk) => {
      received += chunk;
    });
    await within(6_000, 'headers timeout', new Promise((resolve) => socket.on('close', resolve)));
    assert.match(received, /^HTTP\/1\.1 408 /);
  });

  test('new bring-your-own keys share the unverified budget; known keys are not held back by it', async () => {
    const fake = (i: number) => `sk-proj-budget-${String(i).padStart(4, '0')}-abcdefghijklmnopqrstuvwxyz`;
    // Two stalled 400 KB uploads take 800 KB of the 1 MB budget...
    const held = [0, 1].map((i) =>
      rawRequest(gw.url, post('/v1/chat/completions', { authorization: `Bearer ${fake(i)}` }, 400_000), 1024),
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    // ...so a third is refused at once with 429 and Retry-After, before its body is read,
    const third = rawRequest(gw.url, post('/v1/chat/completions', { authorization: `Bearer ${fake(2)}` }, 400_000), 0);
    const refused = await within(3_000, 'budget refusal', third.closed);
    assert.match(refused, /^HTTP\/1\.1 429 /);
    assert.match(refused, /retry-after: 1/i);
    assert.match(refused, /"rate_limited"/);
    // ...while a configured key is served as usual,
    const ok = await gw.post('/v1/chat/completions', { model: 'fast', messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(ok.status, 200);
    await ok.text();
    // ...and once the stalled uploads are gone, the budget is free again.
    for (const h of held) h.socket.destroy();
    await Promise.all(held.map((h) => h.closed));
    await new Promise((resolve) => setTimeout(resolve, 50));
    const fourth = rawRequest(
      gw.url,
      post('/v1/chat/completions', { authorization: `Bearer ${fake(3)}`, connection: 'close' }, 400_000),
      0,
    );
    fourth.socket.write(Buffer.alloc(400_000 - 2, 0x20));
    fourth.socket.write('{}');
    const answered = await within(
      5_000,
      'the fourth upload',
      fourth.closed.catch(() => ''),
    );
    assert.doesNotMatch(answered, /^HTTP\/1\.1 429 /);
  });
});

test('the admin JSON API reads at most 1 MB before its session check', async () => {
  const { startTenancyGateway } = await import('../tenancy/helpers.ts');
  const gw = await startTenancyGateway();
  try {
    const res = await fetch(`${gw.url}/admin/api/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'x'.repeat(2_000_000), password: 'y' }),
    });
    assert.equal(res.status, 413);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'invalid_request');
  } finally {
    await gw.close();
  }
});
