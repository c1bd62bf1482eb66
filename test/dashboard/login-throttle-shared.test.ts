import assert from 'node:assert/strict';
import { after, describe } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseConfig } from '../../src/config/load.ts';
import { LOGIN_LIMIT, LOGIN_WINDOW_MS, LoginThrottle } from '../../src/dashboard/admin/login-throttle.ts';
import { createLogger } from '../../src/ops/logger.ts';
import { Metrics } from '../../src/ops/metrics.ts';
import { createSharedLimits, type SharedLimits } from '../../src/server/shared-limits.ts';
import { dropPrefix, redisRelay, redisTest, testPrefix } from '../helpers/redis.ts';

/**
 * The dashboards' sign-in throttle with `redis:` (src/server/shared-limits.ts): three throttles on one Redis
 * prefix are three replicas behind a load balancer. A guesser gets LOGIN_LIMIT attempts in all, not per
 * replica; a success on one starts the count over on all; with Redis away each counts its own again.
 */
const opened: SharedLimits[] = [];
const prefixes: string[] = [];
after(async () => {
  for (const s of opened) await s.close();
  for (const p of prefixes) await dropPrefix(p).catch(() => {});
});

async function replicas(url: string, n: number, prefix: string, errors: unknown[]): Promise<LoginThrottle[]> {
  const out: LoginThrottle[] = [];
  for (let i = 0; i < n; i++) {
    const config = parseConfig({ redis: { url, keyPrefix: prefix, failMode: 'open' } }, {});
    const shared = await createSharedLimits({
      config,
      logger: createLogger('error', { write: () => {} }),
      metrics: new Metrics(),
      spentSince: async () => 0,
    });
    opened.push(shared);
    assert.ok(shared.attemptCounts, 'redis: gives shared attempt counts');
    out.push(
      new LoginThrottle({
        shared: { counts: shared.attemptCounts, scope: 'admin-login', onError: (err) => errors.push(err) },
      }),
    );
  }
  return out;
}

describe('sign-in throttle shared by replicas (Redis)', () => {
  redisTest(
    'LOGIN_LIMIT attempts across three replicas, not per replica; parallel attempts cannot all pass',
    async () => {
      const relay = await redisRelay();
      const prefix = testPrefix();
      prefixes.push(prefix);
      const errors: unknown[] = [];
      const [a, b, c] = await replicas(relay.url, 3, prefix, errors);
      try {
        // Round-robin, as a load balancer spreads them: 3 x LOGIN_LIMIT attempts sent at once.
        const slots = await Promise.all(
          Array.from({ length: 3 * LOGIN_LIMIT }, (_, i) => [a, b, c][i % 3]!.reserve('203.0.113.7', 'root')),
        );
        assert.equal(slots.filter((s) => s.allowed).length, LOGIN_LIMIT);
        const refused = slots.find((s) => !s.allowed);
        assert.ok(refused && !refused.allowed);
        assert.ok(refused.retryAfterSeconds > 0 && refused.retryAfterSeconds <= LOGIN_WINDOW_MS / 1000);
        // The account's count is shared too: another address, the same username, on a replica.
        assert.equal((await c!.reserve('198.51.100.9', 'root')).allowed, false);
        // Another account from another address is not affected.
        assert.equal((await b!.reserve('198.51.100.9', 'alice')).allowed, true);
        assert.deepEqual(errors, []);
      } finally {
        await relay.close();
      }
    },
  );

  redisTest('a success on one replica starts the count over on all', async () => {
    const relay = await redisRelay();
    const prefix = testPrefix();
    prefixes.push(prefix);
    const errors: unknown[] = [];
    const [a, b] = await replicas(relay.url, 2, prefix, errors);
    try {
      for (let i = 0; i < LOGIN_LIMIT - 1; i++) assert.equal((await a!.reserve('192.0.2.1', 'ops')).allowed, true);
      b!.succeeded('192.0.2.1', 'ops');
      await sleep(200); // succeeded() clears the shared counts in the background
      // b's own count is 0; without the shared clear Redis would hold LOGIN_LIMIT - 1 and allow only one more.
      let allowed = 0;
      for (let i = 0; i < LOGIN_LIMIT; i++) if ((await b!.reserve('192.0.2.1', 'ops')).allowed) allowed++;
      assert.equal(allowed, LOGIN_LIMIT);
      assert.deepEqual(errors, []);
    } finally {
      await relay.close();
    }
  });

  redisTest('with Redis away each replica counts its own, and the error is reported', async () => {
    const relay = await redisRelay();
    const prefix = testPrefix();
    prefixes.push(prefix);
    const errors: unknown[] = [];
    const [a] = await replicas(relay.url, 1, prefix, errors);
    try {
      await relay.down();
      const slots = [];
      for (let i = 0; i <= LOGIN_LIMIT; i++) slots.push(await a!.reserve('192.0.2.50', 'root'));
      assert.equal(slots.filter((s) => s.allowed).length, LOGIN_LIMIT, 'the local throttle still refuses');
      assert.ok(errors.length > 0, 'the Redis failure was reported');
    } finally {
      await relay.close();
    }
  });
});
