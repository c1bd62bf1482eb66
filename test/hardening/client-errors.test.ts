import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseConfig } from '../../src/config/load.ts';
import { createRuntime, type Runtime } from '../../src/server/runtime.ts';
import { startGateway, TEST_API_KEY, type TestGateway } from '../helpers/gateway.ts';
import { waitFor } from '../tenancy/helpers.ts';

/**
 * What Node's HTTP parser refuses before any route runs (oversized headers, garbage, chunk extensions over
 * the limit, requests not received in time) is answered with the OpenAI error envelope, then the socket closes.
 */

interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: unknown;
  /** Everything the server sent, for what no envelope parse can show. */
  raw: string;
}

/** Sends raw bytes, optionally stalls, and reads until the server closes the connection. */
function rawExchange(url: string, bytes: string): Promise<RawAnswer> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.write(bytes));
    const chunks: Buffer[] = [];
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const split = raw.indexOf('\r\n\r\n');
      const head = raw.slice(0, split).split('\r\n');
      const headers = Object.fromEntries(
        head.slice(1).map((line) => {
          const colon = line.indexOf(':');
          return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()];
        }),
      );
      const text = raw.slice(split + 4);
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {}
      resolve({ status: Number(head[0]?.split(' ')[1]), headers, body, raw });
    });
  });
}

function assertEnvelope(answer: RawAnswer, status: number, message: RegExp) {
  assert.equal(answer.status, status, answer.raw.slice(0, 300));
  assert.equal(answer.headers['content-type'], 'application/json');
  assert.equal(answer.headers['connection'], 'close');
  const body = answer.body as { error: { code: string; type: string; message: string; retryable: boolean } };
  assert.equal(body.error.code, 'invalid_request', answer.raw.slice(0, 300));
  assert.equal(body.error.type, 'invalid_request_error');
  assert.equal(body.error.retryable, false);
  assert.match(body.error.message, message);
  assert.equal(Number(answer.headers['content-length']), Buffer.byteLength(JSON.stringify(body)));
}

describe('requests the HTTP parser refuses', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway();
  });
  after(() => gw.close());

  test('20 KB of headers: 431 in the error envelope', async () => {
    const answer = await rawExchange(
      gw.url,
      `GET /v1/models HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TEST_API_KEY}\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
    );
    assertEnvelope(answer, 431, /headers are too large/);
  });

  test('many small headers over the size limit: 431 in the error envelope', async () => {
    const many = Array.from({ length: 1_500 }, (_, i) => `X-H${i}: ${'v'.repeat(10)}\r\n`).join('');
    const answer = await rawExchange(gw.url, `GET /healthz HTTP/1.1\r\nHost: x\r\n${many}\r\n`);
    assertEnvelope(answer, 431, /headers are too large/);
  });

  test('a garbage request line: 400 in the error envelope', async () => {
    const answer = await rawExchange(gw.url, 'HELLO THERE\r\n\r\n');
    assertEnvelope(answer, 400, /Malformed HTTP request/);
  });

  test('chunk extensions over the limit: 413 in the error envelope', async () => {
    const answer = await rawExchange(
      gw.url,
      `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TEST_API_KEY}\r\n` +
        `Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n2;${'e'.repeat(20_000)}\r\n{}\r\n0\r\n\r\n`,
    );
    assertEnvelope(answer, 413, /Chunk extensions/);
  });

  test('a client that keeps its side open after the answer is disconnected', async () => {
    const { hostname, port } = new URL(gw.url);
    const socket = connect({ port: Number(port), host: hostname, allowHalfOpen: true }, () =>
      socket.write('HELLO THERE\r\n\r\n'),
    );
    socket.on('error', () => {});
    socket.resume();
    try {
      await new Promise((resolve) => socket.once('end', resolve));
      const open = () => new Promise<number>((resolve) => gw.runtime.app.server.getConnections((_e, n) => resolve(n)));
      await waitFor(async () => (await open()) === 0, 'the server closing its side', 10_000);
    } finally {
      socket.destroy();
    }
  });

  test('the gateway still answers normally afterwards', async () => {
    const res = await fetch(`${gw.url}/healthz`);
    assert.equal(res.status, 200);
  });
});

describe('requests not received in time', () => {
  let runtime: Runtime;
  let url: string;
  let dataDir: string;
  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'modro-timeout-'));
    const config = parseConfig({
      server: { port: 0 },
      storage: { kind: 'sqlite', path: join(dataDir, 'modro.db') },
      auth: { keys: [{ id: 'test', key: TEST_API_KEY }] },
      demo: { enabled: true },
    });
    runtime = await createRuntime({ config, env: {} });
    // Node checks request deadlines every `connectionsCheckingInterval` (a server option, 30 s by default),
    // read from the server when it starts listening. Node expects headersTimeout <= requestTimeout.
    runtime.app.server.headersTimeout = 100;
    runtime.app.server.requestTimeout = 200;
    Object.assign(runtime.app.server, { connectionsCheckingInterval: 50 });
    url = await runtime.listen();
  });
  after(async () => {
    await runtime.shutdown();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('headers that never finish: 408 in the error envelope', async () => {
    const answer = await rawExchange(url, 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n');
    assertEnvelope(answer, 408, /not received in time/);
  });

  test('a body that stalls: 408 in the error envelope', async () => {
    const answer = await rawExchange(
      url,
      `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TEST_API_KEY}\r\n` +
        'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"model":',
    );
    assertEnvelope(answer, 408, /not received in time/);
  });
});
