import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { POSTGRES_TEST_URL } from '../helpers/databases.ts';
import { dropPrefix, REDIS_TEST_URL, redisTest, testPrefix } from '../helpers/redis.ts';
import { adminClient, CHAT, chat, createKey, startTenancyGateway } from '../tenancy/helpers.ts';

/**
 * A suspension reaches every replica through the settings change feed (docs/billing.md): two gateways on one
 * PostgreSQL database and one Redis, the database poll set to a minute so only the Redis notice can carry it.
 * Suspended on replica A, the account's key is refused on replica B well within a second; lifted, served again.
 */
describe('suspension across replicas', () => {
  redisTest(
    'suspended on one replica, refused on the other within a second, and back when lifted',
    async () => {
      const schema = `t_suspend_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
      const prefix = testPrefix();
      const shared = {
        storage: { kind: 'postgres' as const, url: POSTGRES_TEST_URL, schema },
        redis: { url: REDIS_TEST_URL, keyPrefix: prefix },
        tenancy: { secret: 'a-shared-secret-of-at-least-32-characters', cache: { pollMs: 60_000 } },
      };
      const a = await startTenancyGateway(shared);
      const b = await startTenancyGateway(shared);
      try {
        const admin = await adminClient(a);
        await admin.json('POST', '/admin/api/tenants', { id: 'acme' });
        await admin.json('POST', '/admin/api/tenants/acme/account');
        await admin.json('POST', '/admin/api/tenants/acme/ledger', { kind: 'credit', amountUsd: '5', reason: 't' });
        const { key } = await createKey(admin, 'acme');
        // B learns of the account through its ledger poll (billing.pollMs, 1 s).
        let status = 0;
        for (let i = 0; i < 100 && status !== 200; i++) {
          const res = await chat(b, key, CHAT);
          await res.text();
          status = res.status;
          if (status !== 200) await sleep(50);
        }
        assert.equal(status, 200, 'replica B serves the key');

        const started = Date.now();
        await admin.json('POST', '/admin/api/tenants/acme/suspend', { reason: 'fraud check' });
        let refusedAfter = -1;
        while (Date.now() - started < 5_000) {
          const res = await chat(b, key, CHAT);
          const text = await res.text();
          if (res.status === 403) {
            assert.match(text, /account is suspended/);
            refusedAfter = Date.now() - started;
            break;
          }
          await sleep(10);
        }
        assert.ok(refusedAfter >= 0, 'replica B refuses the suspended account');
        assert.ok(refusedAfter < 1_000, `within a second (${refusedAfter} ms)`);
        const onA = await chat(a, key, CHAT);
        await onA.text();
        assert.equal(onA.status, 403, 'the writing replica at once');

        await admin.json('POST', '/admin/api/tenants/acme/unsuspend');
        let back = 0;
        for (let i = 0; i < 100 && back !== 200; i++) {
          const res = await chat(b, key, CHAT);
          await res.text();
          back = res.status;
          if (back !== 200) await sleep(10);
        }
        assert.equal(back, 200, 'lifted on replica B too');
      } finally {
        await a.close();
        await b.close();
        await dropPrefix(prefix);
        const client = new pg.Client({ connectionString: POSTGRES_TEST_URL });
        await client.connect();
        await client.query(`drop schema if exists "${schema}" cascade`);
        await client.end();
      }
    },
    { timeout: 60_000 },
  );
});
