import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { GatewayError } from '../../../src/core/errors.ts';
import { upstreamFetchWhole } from '../../../src/providers/http.ts';
import { testUpstreams } from '../../helpers/call-context.ts';
import { DEFAULT_UPSTREAM_LIMITS } from '../../helpers/upstream-limits.ts';

/**
 * upstreamFetchWhole, the non-streaming upstream call, against a real HTTP server on loopback: every way an
 * upstream can misbehave must end in a GatewayError with the right code and failover flag, and cancelling
 * must close the upstream connection (so a gone client stops costing upstream tokens).
 */
type Handler = (req: IncomingMessage, res: ServerResponse) => void;
let handler: Handler = (_req, res) => res.end('{}');
let server: Server;
let origin: string;
const closedRequests: string[] = [];

const timeouts = { connectMs: 1_000, firstByteMs: 1_000, totalMs: 5_000 };
function call(
  path: string,
  options: { signal?: AbortSignal; limit?: number; totalMs?: number; firstByteMs?: number } = {},
) {
  return upstreamFetchWhole({
    url: `${origin}${path}`,
    headers: { 'content-type': 'application/json', authorization: 'Bearer sk-secret' },
    body: '{"hello":"world"}',
    timeouts: {
      ...timeouts,
      ...(options.totalMs ? { totalMs: options.totalMs } : {}),
      ...(options.firstByteMs ? { firstByteMs: options.firstByteMs } : {}),
    },
    limits: { ...DEFAULT_UPSTREAM_LIMITS, ...(options.limit ? { maxBodyBytes: options.limit } : {}) },
    signal: options.signal ?? new AbortController().signal,
    pool: testUpstreams,
    label: 'mock',
  });
}

async function rejection(promise: Promise<unknown>): Promise<GatewayError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof GatewayError, `not a GatewayError: ${String(err)}`);
    assert.doesNotMatch(err.message, /sk-secret|127\.0\.0\.1/);
    return err;
  }
  assert.fail('expected a rejection');
}

describe('upstreamFetchWhole', () => {
  before(async () => {
    server = createServer((req, res) => {
      req.on('close', () => {
        if (!res.writableFinished) closedRequests.push(req.url ?? '');
      });
      handler(req, res);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });

  test('returns status, headers and the exact body bytes, sending method, headers and body', async () => {
    let seen: { method?: string; url?: string; auth?: string; body: string } = { body: '' };
    handler = (req, res) => {
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        seen = { method: req.method, url: req.url, auth: req.headers.authorization, body };
        res.writeHead(201, { 'content-type': 'application/json', 'x-upstream': 'yes' });
        res.write('{"a":');
        setTimeout(() => res.end('1}'), 20);
      });
    };
    const res = await call('/v1/chat/completions?x=1');
    assert.equal(res.status, 201);
    assert.equal(res.headers['x-upstream'], 'yes');
    assert.equal(Buffer.from(res.bytes).toString('utf8'), '{"a":1}');
    assert.deepEqual(seen, {
      method: 'POST',
      url: '/v1/chat/completions?x=1',
      auth: 'Bearer sk-secret',
      body: '{"hello":"world"}',
    });
  });

  // undici enforces headersTimeout with coarse timers (about 0.5 s of slack), as its request() does.
  test('a slow first byte is a retryable timeout', async () => {
    handler = (_req, res) => {
      const timer = setTimeout(() => res.end('{}'), 4_000);
      res.on('close', () => clearTimeout(timer));
    };
    const err = await rejection(call('/slow-first-byte', { firstByteMs: 1_000 }));
    assert.equal(err.code, 'timeout');
    assert.equal(err.failover, true);
  });

  test('a body that trickles past the total time is a retryable timeout, and the connection is closed', async () => {
    handler = (_req, res) => {
      res.writeHead(200);
      const timer = setInterval(() => res.write(' '), 30);
      res.on('close', () => clearInterval(timer));
    };
    const err = await rejection(call('/trickle', { totalMs: 250 }));
    assert.equal(err.code, 'timeout');
    assert.equal(err.failover, true);
    await sleep(100);
    assert.ok(closedRequests.includes('/trickle'));
  });

  test('the caller going away cancels the call (no failover) and closes the upstream connection', async () => {
    handler = (_req, res) => setTimeout(() => res.end('{}'), 2_000);
    const controller = new AbortController();
    const pending = call('/cancelled', { signal: controller.signal });
    await sleep(100);
    controller.abort(new Error('client closed the connection'));
    const err = await rejection(pending);
    assert.equal(err.failover, false);
    await sleep(100);
    assert.ok(closedRequests.includes('/cancelled'));
  });

  test('a routing deadline (a GatewayError as the abort reason) is passed on as that error', async () => {
    handler = (_req, res) => {
      const timer = setTimeout(() => res.end('{}'), 2_000);
      res.on('close', () => clearTimeout(timer));
    };
    const controller = new AbortController();
    const deadline = new GatewayError('timeout', 'No answer within the routing deadline (100 ms)');
    const pending = call('/deadline', { signal: controller.signal });
    await sleep(100);
    controller.abort(deadline);
    assert.equal(await rejection(pending), deadline);
  });

  test('an already-aborted signal never reaches the upstream', async () => {
    let reached = false;
    handler = (_req, res) => {
      reached = true;
      res.end('{}');
    };
    const controller = new AbortController();
    controller.abort();
    const err = await rejection(call('/never', { signal: controller.signal }));
    assert.equal(err.failover, false);
    await sleep(50);
    assert.equal(reached, false);
  });

  test('a body over the limit is a retryable provider_unavailable', async () => {
    handler = (_req, res) => {
      res.writeHead(200);
      res.end(Buffer.alloc(64 * 1024, 0x20));
    };
    const err = await rejection(call('/big', { limit: 16 * 1024 }));
    assert.equal(err.code, 'provider_unavailable');
    assert.match(err.message, /body larger than 16384 bytes/);
  });

  test('a connection reset mid-body and a refused connection are retryable provider_unavailable', async () => {
    handler = (req, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('{"partial":');
      setTimeout(() => req.socket.destroy(), 20);
    };
    const reset = await rejection(call('/reset'));
    assert.equal(reset.code, 'provider_unavailable');
    assert.equal(reset.failover, true);

    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const refused = await rejection(
      upstreamFetchWhole({
        url: `http://127.0.0.1:${port}/v1`,
        headers: {},
        body: '{}',
        timeouts,
        limits: DEFAULT_UPSTREAM_LIMITS,
        signal: new AbortController().signal,
        pool: testUpstreams,
        label: 'gone',
      }),
    );
    assert.equal(refused.code, 'provider_unavailable');
    assert.equal(refused.failover, true);
  });

  test('many calls at once share the pool and each gets its own body', async () => {
    handler = (req, res) => res.end(JSON.stringify({ path: req.url }));
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => call(`/n/${i}`)));
    for (const [i, res] of results.entries()) {
      assert.equal(Buffer.from(res.bytes).toString('utf8'), JSON.stringify({ path: `/n/${i}` }));
    }
  });
});
