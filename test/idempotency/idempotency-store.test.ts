import assert from 'node:assert/strict';
import { it } from 'node:test';
import { fingerprint, Idempotency, keyOf } from '../../src/idempotency/idempotency.ts';
import { forEachDatabase } from '../helpers/databases.ts';

/** The idempotency stage on its own, on both databases: taking, replaying, conflicting, releasing, expiring. */

const OK = {
  status: 200,
  headers: { 'content-type': 'application/json', 'x-request-id': 'req_1' },
  body: '{"id":"x"}',
};
const FP = fingerprint('POST', '/v1/things', '{"a":1}');

forEachDatabase('idempotency keys', (suite) => {
  const make = (clock: { now: number }, store = suite.getStore()) =>
    new Idempotency({ db: store.db, ttlMs: 86_400_000, lockTimeoutMs: 60_000, now: () => clock.now });

  it('the first request takes the key; the same request later gets its stored response', async () => {
    const clock = { now: 1_000_000 };
    const idem = make(clock);
    const first = await idem.begin('t-replay', 'k1', FP);
    assert.equal(first.kind, 'new');
    if (first.kind !== 'new') return;
    await first.finish(OK);
    const again = await idem.begin('t-replay', 'k1', FP);
    assert.deepEqual(again, { kind: 'replay', response: OK });
    // Another tenant's same key is another key.
    assert.equal((await idem.begin('t-replay-other', 'k1', FP)).kind, 'new');
  });

  it('a different request under the same key, or one while the first runs, is a conflict', async () => {
    const idem = make({ now: 1_000_000 });
    const first = await idem.begin('t-conflict', 'k', FP);
    assert.equal(first.kind, 'new');
    const running = await idem.begin('t-conflict', 'k', FP);
    assert.equal(running.kind, 'conflict');
    if (running.kind === 'conflict') {
      assert.equal(running.reason, 'in_progress');
      assert.equal(running.error.code, 'idempotency_conflict');
      assert.equal(running.error.status, 409);
      assert.match(running.error.message, /still in progress/);
    }
    const other = await idem.begin('t-conflict', 'k', fingerprint('POST', '/v1/things', '{"a":2}'));
    assert.equal(other.kind === 'conflict' && other.reason, 'mismatch');
    const otherPath = await idem.begin('t-conflict', 'k', fingerprint('POST', '/v1/other', '{"a":1}'));
    assert.equal(otherPath.kind === 'conflict' && otherPath.reason, 'mismatch');
  });

  it('a retryable answer (429, 5xx) is not stored: the key is released and a retry runs', async () => {
    const idem = make({ now: 1_000_000 });
    for (const status of [500, 503, 429]) {
      const first = await idem.begin(`t-release-${status}`, 'k', FP);
      assert.equal(first.kind, 'new');
      if (first.kind === 'new') await first.finish({ ...OK, status });
      assert.equal((await idem.begin(`t-release-${status}`, 'k', FP)).kind, 'new', String(status));
    }
    // A 4xx of a request that ran (402, 404) is kept, as Stripe keeps a declined charge.
    const declined = await idem.begin('t-keep-402', 'k', FP);
    if (declined.kind === 'new') await declined.finish({ ...OK, status: 402 });
    const replay = await idem.begin('t-keep-402', 'k', FP);
    assert.equal(replay.kind === 'replay' && replay.response.status, 402);
  });

  it('keys expire after ttlMs (then run anew) and are pruned', async () => {
    const clock = { now: 5_000_000 };
    const idem = make(clock);
    const first = await idem.begin('t-expire', 'k', FP);
    if (first.kind === 'new') await first.finish(OK);
    clock.now += 86_400_000 - 1;
    assert.equal((await idem.begin('t-expire', 'k', FP)).kind, 'replay');
    clock.now += 1;
    const after = await idem.begin('t-expire', 'k', fingerprint('POST', '/v1/things', '{"other":true}'));
    assert.equal(after.kind, 'new', 'expired: even another body takes it');
    // And another expired row is pruned.
    const stale = await idem.begin('t-expire', 'k2', FP);
    if (stale.kind === 'new') await stale.finish(OK);
    clock.now += 2 * 86_400_000;
    assert.ok((await idem.prune()) >= 2);
    const left = await suite
      .getStore()
      .db.selectFrom('idempotency_key')
      .select('key')
      .where('tenant_id', '=', 't-expire')
      .execute();
    assert.deepEqual(left, []);
  });

  it('a request whose process died is taken over after lockTimeoutMs; the dead one cannot finish it', async () => {
    const clock = { now: 9_000_000 };
    const idem = make(clock);
    const dead = await idem.begin('t-lock', 'k', FP);
    assert.equal(dead.kind, 'new');
    clock.now += 59_999;
    assert.equal((await idem.begin('t-lock', 'k', FP)).kind, 'conflict');
    clock.now += 1;
    const next = await idem.begin('t-lock', 'k', FP);
    assert.equal(next.kind, 'new');
    if (dead.kind === 'new') await dead.finish({ ...OK, body: '{"from":"dead"}' });
    if (next.kind === 'new') await next.finish(OK);
    assert.deepEqual(await idem.begin('t-lock', 'k', FP), { kind: 'replay', response: OK });
  });

  it('20 simultaneous first requests: exactly one takes the key', async () => {
    const idem = make({ now: 1_000_000 });
    const results = await Promise.all(Array.from({ length: 20 }, () => idem.begin('t-race', 'k', FP)));
    assert.equal(results.filter((r) => r.kind === 'new').length, 1);
    assert.equal(results.filter((r) => r.kind === 'conflict' && r.reason === 'in_progress').length, 19);
  });

  it('two processes (two stores on one database) share keys', async () => {
    if (suite.kind === 'sqlite') return; // one Store per SQLite file per process (decision 0001)
    const db = await suite.fresh();
    const other = await db.reopen();
    const clock = { now: 1_000_000 };
    const a = make(clock, db.store);
    const b = make(clock, other);
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).begin('t', 'k', FP)));
    const winner = results.find((r) => r.kind === 'new');
    assert.equal(results.filter((r) => r.kind === 'new').length, 1);
    if (winner?.kind === 'new') await winner.finish(OK);
    assert.deepEqual(await b.begin('t', 'k', FP), { kind: 'replay', response: OK });
    assert.deepEqual(await a.begin('t', 'k', FP), { kind: 'replay', response: OK });
  });
});

it('keyOf: absent, valid, empty, too long, repeated', () => {
  assert.equal(keyOf({}), undefined);
  assert.equal(keyOf({ 'idempotency-key': 'abc' }), 'abc');
  assert.equal(keyOf({ 'idempotency-key': 'x'.repeat(255) }), 'x'.repeat(255));
  for (const bad of ['', 'x'.repeat(256), ['a', 'b']]) {
    const result = keyOf({ 'idempotency-key': bad });
    assert.ok(typeof result === 'object' && !Array.isArray(result) && result.code === 'invalid_request');
  }
});
