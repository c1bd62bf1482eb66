import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { GatewayError, openAIErrorBody } from '../../src/core/errors.ts';
import { toClientError } from '../../src/http/client-errors.ts';
import { fingerprint, Idempotency, keyOf } from '../../src/idempotency/idempotency.ts';
import { answerOnce } from '../../src/server/idempotent.ts';
import { openStore, type Store } from '../../src/store/db.ts';

/**
 * answerOnce, the whole idempotent JSON answer a route such as POST /v1/executions uses, on a bare Fastify app:
 * what `run` throws becomes the answer; a retryable one (500) is not kept, a 4xx is.
 */
describe('answerOnce', () => {
  let dir: string;
  let store: Store;
  let app: FastifyInstance;
  let url: string;
  let runs = 0;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'modro-once-'));
    store = await openStore({ kind: 'sqlite', path: join(dir, 'modro.db') });
    const idempotency = new Idempotency({ db: store.db, ttlMs: 60_000, lockTimeoutMs: 60_000 });
    app = Fastify();
    app.setErrorHandler((err, _req, reply) => {
      const error = toClientError(err);
      return reply.code(error.status).send(openAIErrorBody(error));
    });
    app.post<{ Body: { outcome: string } }>('/v1/things', async (req, reply) => {
      const key = keyOf(req.headers);
      if (key instanceof GatewayError) throw key;
      return answerOnce(
        reply,
        {
          idempotency,
          tenantId: 't',
          key,
          fingerprint: () => fingerprint('POST', '/v1/things', JSON.stringify(req.body)),
        },
        async () => {
          runs++;
          if (req.body.outcome === 'crash') throw new Error('a bug');
          if (req.body.outcome === 'missing') throw new GatewayError('not_found', 'No such model');
          return {
            status: 202,
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ id: `thing_${runs}` }),
          };
        },
      );
    });
    url = await app.listen({ port: 0, host: '127.0.0.1' });
  });
  after(async () => {
    await app.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const post = (key: string | undefined, outcome: string) =>
    fetch(`${url}/v1/things`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(key ? { 'idempotency-key': key } : {}) },
      body: JSON.stringify({ outcome }),
    });

  test('the first 202 is the answer of every retry; without a key each request runs', async () => {
    const before = runs;
    const first = await post('a', 'ok');
    const again = await post('a', 'ok');
    assert.equal(first.status, 202);
    assert.equal(again.status, 202);
    assert.equal(again.headers.get('idempotent-replayed'), 'true');
    assert.deepEqual(await again.json(), await first.json());
    await (await post(undefined, 'ok')).text();
    await (await post(undefined, 'ok')).text();
    assert.equal(runs - before, 3);
  });

  test('a thrown bug answers 500 and releases the key; a thrown 404 is kept', async () => {
    const before = runs;
    const crashed = await post('b', 'crash');
    assert.equal(crashed.status, 500);
    assert.equal(((await crashed.json()) as { error: { code: string } }).error.code, 'internal_error');
    await (await post('b', 'crash')).text();
    assert.equal(runs - before, 2, 'the 500 was not kept: the retry ran');
    const missing = await post('c', 'missing');
    assert.equal(missing.status, 404);
    const replay = await post('c', 'missing');
    assert.equal(replay.status, 404);
    assert.equal(replay.headers.get('idempotent-replayed'), 'true');
    assert.equal(runs - before, 3);
  });

  test('another body under a used key: 409 with X-Should-Retry: false', async () => {
    await (await post('d', 'ok')).text();
    const conflict = await post('d', 'missing');
    assert.equal(conflict.status, 409);
    assert.equal(conflict.headers.get('x-should-retry'), 'false');
    assert.equal(((await conflict.json()) as { error: { code: string } }).error.code, 'idempotency_conflict');
  });
});
