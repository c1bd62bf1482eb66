import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as undici from 'undici';
import { Agent, errors, request } from '../../../src/providers/undici-core.ts';

/**
 * undici-core.ts loads undici's Agent, request API and errors from undici's own modules instead of its
 * index (which would keep fetch, WebSocket, the cache stores and the mocks in the heap). These tests pin
 * what that relies on: the deep paths still exist and are the very classes the index exports, `request`
 * works through them, and the gateway's upstream client never loads the index.
 */
let server: Server;
let origin: string;

before(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => res.end(JSON.stringify({ method: req.method, url: req.url, body })));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('undici core', () => {
  test('the deep modules are the classes undici exports', () => {
    assert.equal(Agent, undici.Agent);
    assert.equal(errors.HeadersTimeoutError, undici.errors.HeadersTimeoutError);
    assert.equal(errors.ConnectTimeoutError, undici.errors.ConnectTimeoutError);
  });

  test('request sends method, path with query and body through the given agent', async () => {
    const agent = new Agent();
    try {
      const res = await request(`${origin}/v1/things?x=1`, { dispatcher: agent, method: 'POST', body: 'hi' });
      assert.equal(res.statusCode, 200);
      assert.deepEqual(await res.body.json(), { method: 'POST', url: '/v1/things?x=1', body: 'hi' });
      const get = await request(new URL(`${origin}/plain`), { dispatcher: agent });
      assert.deepEqual(await get.body.json(), { method: 'GET', url: '/plain', body: '' });
    } finally {
      await agent.close();
    }
  });

  test("the upstream client does not load undici's index", () => {
    const http = fileURLToPath(new URL('../../../src/providers/http.ts', import.meta.url));
    const script = `
      import { createRequire } from 'node:module';
      await import(${JSON.stringify(http)});
      const loaded = Object.keys(createRequire(import.meta.url).cache).filter((id) => id.includes('/undici/'));
      console.log(JSON.stringify({ count: loaded.length, index: loaded.some((id) => id.endsWith('/undici/index.js')) }));
    `;
    const out = JSON.parse(
      execFileSync(process.execPath, ['--input-type=module', '-e', script], {
        cwd: fileURLToPath(new URL('../../..', import.meta.url)),
        encoding: 'utf8',
      }),
    );
    assert.ok(out.count > 0, 'undici modules were loaded');
    assert.equal(out.index, false);
  });

  test("no other module of the gateway imports undici's index", () => {
    const src = fileURLToPath(new URL('../../../src/', import.meta.url));
    const offenders = readdirSync(src, { recursive: true, encoding: 'utf8' })
      .filter((file) => file.endsWith('.ts') && !file.endsWith('undici-core.ts'))
      .filter((file) => /^import (?!type )[^;]*from 'undici';/m.test(readFileSync(join(src, file), 'utf8')));
    assert.deepEqual(offenders, []);
  });
});
