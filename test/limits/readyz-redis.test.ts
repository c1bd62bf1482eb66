import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startGateway } from '../helpers/gateway.ts';
import { dropPrefix, redisRelay, redisTest, testPrefix } from '../helpers/redis.ts';

/**
 * `/readyz` with `redis:` set (docs/deploy.md): failMode closed is not ready while Redis is away (a load
 * balancer then sends traffic to replicas that can check limits) and ready again when it is back, without a
 * restart; failMode open stays ready and says it is degraded. A real Redis on 127.0.0.1:6379 behind a relay
 * the test cuts, and a closed port.
 */

async function readyz(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${url}/readyz`);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function until(url: string, status: number): Promise<{ status: number; body: Record<string, unknown> }> {
  let last = await readyz(url);
  for (let i = 0; i < 200 && last.status !== status; i++) {
    await sleep(25);
    last = await readyz(url);
  }
  return last;
}

describe('/readyz and Redis', () => {
  redisTest(
    'failMode closed: not ready while Redis is down, ready again when it is back',
    async () => {
      const relay = await redisRelay();
      const prefix = testPrefix();
      const gw = await startGateway({
        demo: { enabled: true },
        redis: { url: relay.url, keyPrefix: prefix, failMode: 'closed' },
      });
      try {
        const up = await readyz(gw.url);
        assert.equal(up.status, 200);
        assert.equal(up.body['redis'], 'up');
        await relay.down();
        // No traffic needed: the connection's own events mark Redis down.
        const down = await until(gw.url, 503);
        assert.equal(down.status, 503);
        assert.deepEqual(down.body, { status: 'redis unreachable', redis: 'down', failMode: 'closed' });
        assert.match(await (await fetch(`${gw.url}/healthz`)).text(), /ok/, 'still alive, only not ready');
        await relay.up();
        const back = await until(gw.url, 200);
        assert.equal(back.status, 200, 'ready again without a restart');
        assert.equal(back.body['redis'], 'up');
      } finally {
        await gw.close();
        await relay.close();
        await dropPrefix(prefix);
      }
    },
    { timeout: 60_000 },
  );

  redisTest('failMode closed with Redis on a closed port from the start: not ready', async () => {
    const gw = await startGateway({
      demo: { enabled: true },
      redis: { url: 'redis://127.0.0.1:1', keyPrefix: testPrefix(), failMode: 'closed' },
    });
    try {
      const r = await readyz(gw.url);
      assert.equal(r.status, 503);
      assert.equal(r.body['redis'], 'down');
    } finally {
      await gw.close();
    }
  });

  redisTest('failMode open: ready while Redis is down, reported as degraded', async () => {
    const gw = await startGateway({
      demo: { enabled: true },
      redis: { url: 'redis://127.0.0.1:1', keyPrefix: testPrefix(), failMode: 'open' },
    });
    try {
      const r = await readyz(gw.url);
      assert.equal(r.status, 200);
      assert.equal(r.body['status'], 'ready');
      assert.equal(r.body['redis'], 'degraded');
      assert.match(await (await fetch(`${gw.url}/metrics`)).text(), /^modro_redis_up 0$/m);
    } finally {
      await gw.close();
    }
  });

  redisTest('without redis: readiness says nothing about it', async () => {
    const gw = await startGateway({ demo: { enabled: true } });
    try {
      const r = await readyz(gw.url);
      assert.equal(r.status, 200);
      assert.equal(r.body['redis'], undefined);
    } finally {
      await gw.close();
    }
  });
});
