import assert from 'node:assert/strict';
import { after, describe } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { parseConfig } from '../../src/config/load.ts';
import type { CompiledLimits } from '../../src/limits/key-limits.ts';
import { type LimitTicket, MemoryLimiter, type Taken } from '../../src/limits/limiter.ts';
import { RedisLimiter } from '../../src/limits/redis-limiter.ts';
import { createLogger } from '../../src/ops/logger.ts';
import { Metrics } from '../../src/ops/metrics.ts';
import { createSharedLimits } from '../../src/server/shared-limits.ts';
import { dropPrefix, REDIS_TEST_URL, redisRelay, redisTest, testPrefix } from '../helpers/redis.ts';

/**
 * The Redis limiter against the machine's Redis: two limiters on one prefix are two replicas. They must give
 * the one-node limiter's answers (counts, refusals, headers), share the counters exactly, settle tokens and
 * cost at request end, and apply failMode while Redis is away, recovering by themselves.
 */

function limits(partial: Partial<CompiledLimits>): CompiledLimits {
  return {
    rpm: undefined,
    tpm: undefined,
    quota: undefined,
    ips: undefined,
    models: undefined,
    scopes: undefined,
    ...partial,
  };
}

const clients: Redis[] = [];
const prefixes: string[] = [];
after(async () => {
  for (const c of clients) c.disconnect();
  for (const p of prefixes) await dropPrefix(p).catch(() => {});
});

function replica(
  prefix: string,
  spent: number | (() => number) = 0,
  failMode: 'open' | 'closed' = 'open',
  url = REDIS_TEST_URL,
) {
  const stored = async () => (typeof spent === 'number' ? spent : spent());
  const redis = new Redis(url, { enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 500 });
  redis.on('error', () => {});
  clients.push(redis);
  const states: boolean[] = [];
  let degraded = 0;
  const fallback = new MemoryLimiter({ spentSince: stored });
  const limiter = new RedisLimiter({
    redis,
    keyPrefix: prefix,
    failMode,
    fallback,
    spentSince: stored,
    onStateChange: (up) => states.push(up),
    onDegraded: () => degraded++,
  });
  return { redis, limiter, states, degraded: () => degraded };
}

async function ready(redis: Redis): Promise<void> {
  while (redis.status !== 'ready') await sleep(10);
}

function status(t: Taken): number {
  return t.ok ? 200 : t.error.status;
}

describe('Redis limiter', () => {
  redisTest('two replicas on one prefix share rpm exactly, with the one-node answers and headers', async () => {
    const prefix = testPrefix();
    prefixes.push(prefix);
    const a = replica(prefix);
    const b = replica(prefix);
    await Promise.all([ready(a.redis), ready(b.redis)]);
    const memory = new MemoryLimiter({ spentSince: async () => 0 });
    const l = limits({ rpm: 5 });
    const shared: number[] = [];
    const alone: number[] = [];
    // 8 requests at once, alternating replicas: exactly 5 admitted, like one node.
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) => (i % 2 === 0 ? a : b).limiter.admit('key-1', l, 0)),
    );
    for (const r of results) shared.push(status(r));
    for (let i = 0; i < 8; i++) alone.push(status(await memory.admit('key-1', l, 0)));
    assert.deepEqual(shared.filter((s) => s === 200).length, 5, `shared: ${shared.join(',')}`);
    assert.deepEqual([...shared].sort(), [...alone].sort());
    const refused = results.find((r) => !r.ok);
    assert.ok(refused && !refused.ok);
    assert.equal(refused.error.code, 'rate_limited');
    assert.ok(refused.error.retryAfter! >= 59 && refused.error.retryAfter! <= 61, `${refused.error.retryAfter}`);
    assert.equal(refused.headers['x-ratelimit-limit-requests'], '5');
    assert.equal(refused.headers['x-ratelimit-remaining-requests'], '0');
    assert.match(refused.headers['x-ratelimit-reset-requests']!, /^(59(\.\d+)?s|1m0(\.\d+)?s)$/);
    const admitted = results.filter((r) => r.ok).map((r) => (r.ok ? r.ticket.headers() : {}));
    const remaining = admitted.map((h) => Number(h['x-ratelimit-remaining-requests'])).sort();
    assert.deepEqual(remaining, [0, 1, 2, 3, 4], 'each admitted request saw its own place in the window');
    memory.close();
  });

  redisTest('the same answers as one node on a random sequence of admissions and settles', async () => {
    const prefix = testPrefix();
    prefixes.push(prefix);
    const a = replica(prefix);
    const b = replica(prefix);
    await Promise.all([ready(a.redis), ready(b.redis)]);
    // Load the scripts first, so that a settle is one command and a PING after it proves it ran.
    const warm = await a.limiter.admit('warm', limits({ tpm: 10 }), 1);
    const warmB = await b.limiter.admit('warm', limits({ tpm: 10 }), 1);
    assert.ok(warm.ok && warmB.ok);
    warm.ticket.settle(2, 0);
    warmB.ticket.settle(2, 0);
    await sleep(50);
    const clock = { now: Date.now() };
    const memory = new MemoryLimiter({ now: () => clock.now, spentSince: async () => 0 });
    const l = limits({ rpm: 25, tpm: 900 });
    let seed = 23;
    const random = (n: number) => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed % n;
    };
    const open: Array<{ mem: LimitTicket; red: LimitTicket; via: Redis }> = [];
    let refusals = 0;
    for (let step = 0; step < 200; step++) {
      if (open.length > 0 && random(3) === 0) {
        const [pair] = open.splice(random(open.length), 1);
        const tokens = random(150);
        pair!.mem.settle(tokens, 0);
        pair!.red.settle(tokens, 0);
        await pair!.via.ping(); // same connection, so the settle has run
        continue;
      }
      const key = `k${random(3)}`;
      const prompt = random(120);
      const via = random(2) === 0 ? a : b;
      const mem = memory.take(key, l, prompt);
      const red = await via.limiter.admit(key, l, prompt);
      const what = `step ${step}, ${key}, prompt ${prompt}`;
      assert.equal(red.ok, mem.ok, what);
      const headers = red.ok ? red.ticket.headers() : red.headers;
      const expected = mem.ok ? mem.ticket.headers() : mem.headers;
      for (const name of ['x-ratelimit-remaining-requests', 'x-ratelimit-remaining-tokens']) {
        assert.equal(headers[name], expected[name], `${what}: ${name}`);
      }
      if (!red.ok && !mem.ok) {
        refusals++;
        assert.equal(red.error.code, mem.error.code, what);
        assert.equal(red.error.message.replace(/Retry in \d+ s/, ''), mem.error.message.replace(/Retry in \d+ s/, ''));
        assert.ok(Math.abs(red.error.retryAfter! - mem.error.retryAfter!) <= 1, what);
      }
      if (red.ok && mem.ok) open.push({ mem: mem.ticket, red: red.ticket, via: via.redis });
    }
    assert.ok(refusals > 10, `${refusals} refusals: the sequence reached the limits`);
    memory.close();
  });

  redisTest(
    'buckets leave the window 60 s after their end; Retry-After walks the buckets (Redis’s clock)',
    async () => {
      const prefix = testPrefix();
      prefixes.push(prefix);
      const a = replica(prefix);
      await ready(a.redis);
      const [seconds] = await a.redis.time();
      const now = Number(seconds) * 1000;
      const old = now - 61_000; // left the window
      const mid = now - 30_000; // leaves in about 30 s
      const base = `${prefix}{w}`;
      await a.redis.hset(`${base}:r`, String(old), 3, String(mid), 2, 's', 5);
      await a.redis.zadd(`${base}:rz`, old, String(old), mid, String(mid));
      const l = limits({ rpm: 3 });
      const admitted = await a.limiter.admit('w', l, 0);
      assert.ok(admitted.ok, 'the 3 of the old bucket no longer count: 2 + 1 ≤ 3');
      assert.equal(admitted.ticket.headers()['x-ratelimit-remaining-requests'], '0');
      assert.equal(await a.redis.hget(`${base}:r`, String(old)), null, 'the old bucket was dropped');
      assert.equal(await a.redis.hget(`${base}:r`, 's'), '3');
      const refused = await a.limiter.admit('w', l, 0);
      assert.ok(!refused.ok);
      // Room for one more once the bucket of 2 leaves: at mid + 60 s, about 30 s from now.
      assert.ok(
        refused.error.retryAfter! >= 29 && refused.error.retryAfter! <= 31,
        `Retry-After ${refused.error.retryAfter}`,
      );
    },
  );

  redisTest('tpm counts the prompt at admission and the real tokens at the end, across replicas', async () => {
    const prefix = testPrefix();
    prefixes.push(prefix);
    const a = replica(prefix);
    const b = replica(prefix);
    await Promise.all([ready(a.redis), ready(b.redis)]);
    const l = limits({ tpm: 100 });
    const first = await a.limiter.admit('k', l, 60);
    assert.ok(first.ok);
    const second = await b.limiter.admit('k', l, 50);
    assert.equal(status(second), 429, '60 + 50 > 100 across replicas');
    assert.ok(!second.ok && /60 used in the last minute/.test(second.error.message));
    first.ticket.settle(20, 0); // the request really used 20 tokens
    let third: Taken | undefined;
    for (let i = 0; i < 50 && !third?.ok; i++) {
      await sleep(10);
      third = await b.limiter.admit('k', l, 70);
    }
    assert.ok(third?.ok, '20 + 70 <= 100 once the correction is in');
    assert.equal(third.ticket.headers()['x-ratelimit-remaining-tokens'], '10');
    const big = await a.limiter.admit('k', l, 101);
    assert.ok(!big.ok && big.error.retryAfter === 60, 'a prompt larger than tpm waits a whole window');
  });

  redisTest('quota: seeded once from the stored spend, raised by each request’s cost at its end', async () => {
    const prefix = testPrefix();
    prefixes.push(prefix);
    const a = replica(prefix, 900);
    const b = replica(prefix, 0); // would seed 0: the counter a seeded must win
    await Promise.all([ready(a.redis), ready(b.redis)]);
    const l = limits({ quota: { nanoUsd: 1_000, period: 'monthly' } });
    const first = await a.limiter.admit('q', l, 0);
    assert.ok(first.ok);
    const second = await b.limiter.admit('q', l, 0);
    assert.ok(second.ok, '900 < 1000');
    second.ticket.settle(0, 150);
    let refused: Taken | undefined;
    for (let i = 0; i < 50; i++) {
      refused = await a.limiter.admit('q', l, 0);
      if (!refused.ok) break;
      await sleep(10);
    }
    assert.ok(refused && !refused.ok, 'spent 1050 of 1000');
    assert.equal(refused.error.code, 'quota_exceeded');
    assert.equal(refused.error.status, 402);
    assert.match(refused.error.message, /\$0\.00 this month/);
  });

  redisTest('Redis unreachable: failMode open counts in memory, closed refuses with 503; logged once', async () => {
    const prefix = testPrefix();
    const open = replica(prefix, 0, 'open', 'redis://127.0.0.1:1');
    const closed = replica(prefix, 0, 'closed', 'redis://127.0.0.1:1');
    const l = limits({ rpm: 2 });
    const outcomes: number[] = [];
    for (let i = 0; i < 3; i++) outcomes.push(status(await open.limiter.admit('d', l, 0)));
    assert.deepEqual(outcomes, [200, 200, 429], 'the memory fallback still limits, per replica');
    assert.deepEqual(open.states, [false], 'one state change for the whole outage');
    assert.equal(open.degraded(), 3);
    const refused = await closed.limiter.admit('d', l, 0);
    assert.ok(!refused.ok);
    assert.equal(refused.error.status, 503);
    assert.equal(refused.error.code, 'provider_unavailable');
    assert.equal(refused.error.retryAfter, 1);
    assert.doesNotMatch(refused.error.message, /127\.0\.0\.1|redis:/, 'no address in the answer');
  });

  redisTest(
    'spend that Redis missed during an outage (failMode open) is re-read from the database after it',
    async () => {
      const relay = await redisRelay();
      const prefix = testPrefix();
      prefixes.push(prefix);
      const database = { spent: 0 }; // what the usage records hold
      const r = replica(prefix, () => database.spent, 'open', relay.url);
      try {
        await ready(r.redis);
        const l = limits({ quota: { nanoUsd: 1_000, period: 'daily' } });
        assert.ok((await r.limiter.admit('s', l, 0)).ok, 'seeded at 0');
        await relay.down();
        const during = await r.limiter.admit('s', l, 0);
        assert.ok(during.ok, 'failMode open: admitted by the memory fallback');
        during.ticket.settle(0, 500); // counted in memory only; the record goes to the database
        database.spent = 500;
        await relay.up();
        let admitted: Taken | undefined;
        for (let i = 0; i < 100 && r.states.at(-1) !== true; i++) {
          await sleep(50);
          admitted = await r.limiter.admit('s', l, 0);
        }
        assert.deepEqual(r.states, [false, true]);
        assert.ok(admitted?.ok);
        admitted.ticket.settle(0, 600);
        database.spent = 1_100;
        let refused: Taken | undefined;
        for (let i = 0; i < 50; i++) {
          await sleep(10);
          refused = await r.limiter.admit('s', l, 0);
          if (!refused.ok) break;
        }
        assert.ok(refused && !refused.ok, '500 missed by Redis + 600 after: over the quota of 1000');
        assert.equal(refused.error.code, 'quota_exceeded');
      } finally {
        await relay.close();
      }
    },
  );

  redisTest(
    'an outage and its end: one log line each, modro_redis_up follows, counting resumes without restart',
    async () => {
      const relay = await redisRelay();
      const prefix = testPrefix();
      prefixes.push(prefix);
      const lines: string[] = [];
      const sink = { write: (line: string) => void lines.push(line) };
      const metrics = new Metrics();
      const config = parseConfig({ redis: { url: relay.url, keyPrefix: prefix, failMode: 'closed' } }, {});
      const shared = await createSharedLimits({
        config,
        logger: createLogger('info', sink),
        metrics,
        spentSince: async () => 0,
      });
      try {
        const l = limits({ rpm: 100 });
        assert.equal(status(await shared.limiter.admit('r', l, 0)), 200);
        assert.match(await metrics.registry.getSingleMetricAsString('modro_redis_up'), /modro_redis_up 1/);
        await relay.down();
        const during: number[] = [];
        for (let i = 0; i < 5; i++) {
          during.push(status(await shared.limiter.admit('r', l, 0)));
          await sleep(50);
        }
        assert.deepEqual(during, [503, 503, 503, 503, 503]);
        assert.match(await metrics.registry.getSingleMetricAsString('modro_redis_up'), /modro_redis_up 0/);
        assert.match(
          await metrics.registry.getSingleMetricAsString('modro_limits_degraded_total'),
          /modro_limits_degraded_total 5/,
        );
        await relay.up();
        let back = 0;
        for (let i = 0; i < 100 && back !== 200; i++) {
          await sleep(50);
          back = status(await shared.limiter.admit('r', l, 0));
        }
        assert.equal(back, 200, 'served again once Redis is back');
        assert.equal(lines.filter((line) => /Redis unreachable/.test(line)).length, 1, lines.join('\n'));
        assert.equal(lines.filter((line) => /Redis answers again/.test(line)).length, 1);
        assert.ok(!lines.some((line) => line.includes(relay.url)), 'the URL is not logged');
      } finally {
        await shared.close();
        await relay.close();
      }
    },
    { timeout: 30_000 },
  );
});
