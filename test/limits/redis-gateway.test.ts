import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { TEST_API_KEY } from '../helpers/gateway.ts';
import { dropPrefix, redisRelay, redisTest, testPrefix } from '../helpers/redis.ts';
import { adminClient, CHAT, chat, startTenancyGateway } from '../tenancy/helpers.ts';

/**
 * A gateway with `redis:` set, as clients see it: limited keys counted in Redis carry the same headers;
 * with Redis gone, failMode closed answers 503 with Retry-After (no address, no stack) to limited keys only,
 * one log line and modro_redis_up 0 tell the operator, and service resumes when Redis is back, no restart.
 * A gateway whose Redis is down at start still starts (failMode open) and limits per replica.
 */
describe('a gateway on Redis', () => {
  redisTest(
    'failMode closed: 503 for limited keys while Redis is away, one log line, back without restart',
    async () => {
      const relay = await redisRelay();
      const prefix = testPrefix();
      const gw = await startTenancyGateway({
        demo: { enabled: true },
        redis: { url: relay.url, keyPrefix: prefix, failMode: 'closed' },
      });
      try {
        const admin = await adminClient(gw);
        await admin.json('POST', '/admin/api/tenants', { id: 'acme' });
        const { key } = await admin.json<{ key: string }>('POST', '/admin/api/keys', {
          tenantId: 'acme',
          limits: { rpm: 100 },
        });
        const ok = await chat(gw, key, CHAT);
        assert.equal(ok.status, 200, await ok.text());
        assert.equal(ok.headers.get('x-ratelimit-limit-requests'), '100');
        assert.equal(ok.headers.get('x-ratelimit-remaining-requests'), '99');

        await relay.down();
        const refused = await chat(gw, key, CHAT);
        const body = await refused.text();
        assert.equal(refused.status, 503, body);
        assert.equal(refused.headers.get('retry-after'), '1');
        assert.match(body, /cannot be checked right now/);
        assert.doesNotMatch(body, /127\.0\.0\.1|redis:|at .*\.ts/, 'no address or stack trace');
        const again = await chat(gw, key, CHAT);
        await again.text();
        assert.equal(again.status, 503);
        const unlimited = await chat(gw, TEST_API_KEY, CHAT);
        await unlimited.text();
        assert.equal(unlimited.status, 200, 'keys without counters are served');
        const metrics = await (await fetch(`${gw.url}/metrics`)).text();
        assert.match(metrics, /^modro_redis_up 0$/m);
        assert.match(metrics, /^modro_limits_degraded_total 2$/m);

        await relay.up();
        let status = 0;
        for (let i = 0; i < 100 && status !== 200; i++) {
          await sleep(50);
          const res = await chat(gw, key, CHAT);
          await res.text();
          status = res.status;
        }
        assert.equal(status, 200, 'served again once Redis is back');
        assert.match(await (await fetch(`${gw.url}/metrics`)).text(), /^modro_redis_up 1$/m);
        const down = gw.logs.filter((l) => l.includes('Redis unreachable'));
        assert.equal(down.length, 1, down.join('\n'));
        assert.equal(gw.logs.filter((l) => l.includes('Redis answers again')).length, 1);
        assert.ok(!gw.logs.some((l) => l.includes(relay.url)), 'the Redis URL is never logged');
      } finally {
        await gw.close();
        await relay.close();
        await dropPrefix(prefix);
      }
    },
    { timeout: 60_000 },
  );

  redisTest('Redis down at start: the gateway starts, and failMode open limits in its memory', async () => {
    const gw = await startTenancyGateway({
      demo: { enabled: true },
      redis: { url: 'redis://127.0.0.1:1', keyPrefix: testPrefix(), failMode: 'open' },
    });
    try {
      const admin = await adminClient(gw);
      await admin.json('POST', '/admin/api/tenants', { id: 'acme' });
      const { key } = await admin.json<{ key: string }>('POST', '/admin/api/keys', {
        tenantId: 'acme',
        limits: { rpm: 2 },
      });
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) {
        const res = await chat(gw, key, CHAT);
        await res.text();
        statuses.push(res.status);
      }
      assert.deepEqual(statuses, [200, 200, 429]);
      // The key limits' outage line, once (not once per request). The admin sign-in throttle logs its own line
      // ('Redis unreachable: sign-in attempts are counted by this replica…', since 8a8924a), not counted here.
      const unreachable = gw.logs.filter((l) => l.includes('Redis unreachable: key limits'));
      assert.equal(unreachable.length, 1, gw.logs.filter((l) => l.includes('Redis unreachable')).join(''));
    } finally {
      await gw.close();
    }
  });
});
