import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import type { ConfigInput } from '../../src/config/schema.ts';
import { isCI } from '../helpers/ci.ts';
import { POSTGRES_TEST_URL } from '../helpers/databases.ts';
import type { TestGateway } from '../helpers/gateway.ts';
import { type GatewayProcess, removeDataDir, spawnGateway } from '../helpers/gateway-process.ts';
import { type LoadBalancer, startLoadBalancer } from '../helpers/load-balancer.ts';
import { dropPrefix, REDIS_TEST_URL, redisProbe, testPrefix } from '../helpers/redis.ts';
import { ADMIN_PASSWORD, ADMIN_USER, type AdminClient, adminClient, CHAT } from '../tenancy/helpers.ts';

/**
 * Replicas as one (issue 23): three gateway processes on the machine's PostgreSQL (a fresh schema) and Redis
 * (a fresh key prefix), behind a round-robin load balancer (test/helpers/load-balancer.ts). The settings poll
 * is set to a minute, so everything that reaches the other replicas within the test's bounds went through
 * Redis pub/sub. Tolerance of the limit counts: 0 (exactly the limit, as on one node).
 * Without PostgreSQL or Redis the suite is skipped, except in CI (isCI), where it fails.
 */

const missing = await (async () => {
  const client = new pg.Client({ connectionString: POSTGRES_TEST_URL, connectionTimeoutMillis: 3_000 });
  client.on('error', () => {});
  const problems: string[] = [];
  try {
    await client.connect();
    await client.query('select 1');
  } catch (err) {
    problems.push(`PostgreSQL unreachable at ${POSTGRES_TEST_URL}: ${err instanceof Error ? err.message : err}`);
  } finally {
    await client.end().catch(() => {});
  }
  if (!redisProbe.ok) problems.push(`Redis unreachable at ${REDIS_TEST_URL}: ${redisProbe.reason}`);
  return problems;
})();

interface Call {
  status: number;
  requestId: string | null;
  headers: Headers;
  body: string;
}

async function call(base: string, key: string, path = '/v1/chat/completions'): Promise<Call> {
  const res = await fetch(`${base}${path}`, {
    method: path === '/v1/models' ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    ...(path === '/v1/models' ? {} : { body: JSON.stringify(CHAT) }),
  });
  return {
    status: res.status,
    requestId: res.headers.get('x-request-id'),
    headers: res.headers,
    body: await res.text(),
  };
}

if (missing.length > 0) {
  describe('three replicas behind a load balancer', () => {
    if (isCI()) it('PostgreSQL and Redis are reachable (required in CI)', () => assert.fail(missing.join('; ')));
    else it('three replicas', { skip: `${missing.join('; ')}. In CI this fails instead.` }, () => {});
  });
} else {
  describe('three replicas behind a load balancer', { timeout: 240_000 }, () => {
    const schema = `modro_replicas_${randomBytes(4).toString('hex')}`;
    const prefix = testPrefix();
    const config: ConfigInput = {
      storage: { kind: 'postgres', url: POSTGRES_TEST_URL, schema },
      redis: { url: REDIS_TEST_URL, keyPrefix: prefix, failMode: 'open' },
      demo: { enabled: true },
      logging: { level: 'warn' },
      tenancy: {
        secret: 'a-shared-secret-of-at-least-32-characters',
        // A minute: anything seen by another replica sooner came through Redis pub/sub.
        cache: { pollMs: 60_000 },
        admin: { username: ADMIN_USER, password: ADMIN_PASSWORD },
      },
    };
    const replicas: GatewayProcess[] = [];
    const dataDirs: string[] = [];
    let lb: LoadBalancer;
    let admin: AdminClient;
    let db: pg.Client;

    before(async () => {
      for (let i = 0; i < 3; i++) {
        const dir = mkdtempSync(join(tmpdir(), `modro-replica-${i}-`));
        dataDirs.push(dir);
        // One after the other: the first creates the schema and migrates it.
        replicas.push(await spawnGateway(config, dir));
      }
      lb = await startLoadBalancer(replicas.map((r) => r.url));
      admin = await adminClient({ url: replicas[0]!.url } as TestGateway);
      await admin.json('POST', '/admin/api/tenants', { id: 'acme' });
      db = new pg.Client({ connectionString: POSTGRES_TEST_URL });
      await db.connect();
    });

    after(async () => {
      await lb?.close();
      await Promise.all(replicas.map((r) => r.stop('SIGKILL')));
      await db?.query(`drop schema if exists "${schema}" cascade`).catch(() => {});
      await db?.end().catch(() => {});
      await dropPrefix(prefix).catch(() => {});
      for (const dir of dataDirs) removeDataDir(dir);
    });

    /** A key of acme with these limits, once every replica knows it (GET /v1/models counts nothing). */
    async function keyWith(limits: Record<string, unknown> | null): Promise<{ id: string; key: string }> {
      const made = await admin.json<{ id: string; key: string }>('POST', '/admin/api/keys', {
        tenantId: 'acme',
        ...(limits ? { limits } : {}),
      });
      const deadline = Date.now() + 2_000;
      for (const r of replicas) {
        while ((await call(r.url, made.key, '/v1/models')).status !== 200) {
          assert.ok(Date.now() < deadline, 'a new key reaches every replica within 2 s');
          await sleep(20);
        }
      }
      return made;
    }

    it('rpm 60: 100 requests at once through the load balancer, exactly 60 served', async (t) => {
      const { key } = await keyWith({ rpm: 60 });
      const before = [...lb.served];
      const calls = await Promise.all(Array.from({ length: 100 }, () => call(lb.url, key)));
      const statuses = calls.map((c) => c.status);
      assert.equal(statuses.filter((s) => s === 200).length, 60, `served: ${statuses.join(',')}`);
      assert.equal(statuses.filter((s) => s === 429).length, 40);
      const spread = lb.served.map((n, i) => n - before[i]!);
      t.diagnostic(`requests per replica: ${spread.join('/')}`);
      assert.ok(
        spread.every((n) => n >= 30),
        `every replica took its share (${spread.join('/')}): one alone would have served 60`,
      );
      const refused = calls.find((c) => c.status === 429)!;
      assert.equal(refused.headers.get('x-ratelimit-limit-requests'), '60');
      assert.equal(refused.headers.get('x-ratelimit-remaining-requests'), '0');
      const retryAfter = Number(refused.headers.get('retry-after'));
      assert.ok(retryAfter >= 59 && retryAfter <= 61, `Retry-After ${retryAfter}`);
      assert.match(JSON.parse(refused.body).error.message, /60 requests per minute/);
    });

    it('tpm: requests one after the other across replicas stop exactly where one node would', async () => {
      // What one request really uses (T) and what admission estimates for it (E), measured on a probe key.
      const probe = await keyWith({ tpm: 1_000_000 });
      const first = await call(lb.url, probe.key);
      assert.equal(first.status, 200, first.body);
      const used = JSON.parse(first.body).usage.total_tokens as number;
      const estimate = 1_000_000 - Number(first.headers.get('x-ratelimit-remaining-tokens'));
      assert.ok(used > 0 && estimate > 0, `T ${used}, E ${estimate}`);
      const tpm = 10 * used;
      // Request n is admitted while (n - 1)·T + E ≤ tpm (the earlier ones corrected to their real T).
      const expected = Math.floor((tpm - estimate) / used) + 1;
      const { key } = await keyWith({ tpm });
      const statuses: number[] = [];
      for (let i = 0; i < expected + 5; i++) {
        statuses.push((await call(lb.url, key)).status);
        await sleep(50); // the correction is sent to Redis as the request ends
      }
      assert.deepEqual(
        statuses,
        [...Array(expected).fill(200), ...Array(5).fill(429)],
        `T ${used}, E ${estimate}, tpm ${tpm}`,
      );
    });

    it('quota: the spend of requests served by every replica adds up; the one past the quota gets 402', async () => {
      const probe = await keyWith(null);
      const first = await call(lb.url, probe.key);
      assert.equal(first.status, 200);
      let cost = 0;
      for (let i = 0; i < 100 && cost === 0; i++) {
        await sleep(50);
        const rows = await db.query(`select cost_nano_usd from "${schema}".usage_record where request_id = $1`, [
          first.requestId,
        ]);
        cost = Number(rows.rows[0]?.cost_nano_usd ?? 0);
      }
      assert.ok(cost > 0, 'the probe request was recorded with a cost');
      const { key } = await keyWith({ quota: { nanoUsd: 5 * cost, period: 'daily' } });
      const statuses: number[] = [];
      for (let i = 0; i < 8; i++) {
        statuses.push((await call(lb.url, key)).status);
        await sleep(50); // the cost is sent to Redis as the request ends
      }
      assert.deepEqual(statuses, [200, 200, 200, 200, 200, 402, 402, 402], `cost ${cost} nano-USD per request`);
    });

    it('a key revoked on one replica is refused by all three within 1 s', async (t) => {
      const { id, key } = await keyWith({ rpm: 1_000 });
      const started = Date.now();
      await admin.json('POST', `/admin/api/keys/${id}/revoke`);
      const waits = await Promise.all(
        replicas.map(async (r) => {
          while ((await call(r.url, key, '/v1/models')).status !== 401) {
            if (Date.now() - started > 5_000) return Number.POSITIVE_INFINITY;
            await sleep(10);
          }
          return Date.now() - started;
        }),
      );
      t.diagnostic(`refused by each replica after ${waits.join(', ')} ms (from sending the revocation)`);
      assert.ok(
        waits.every((ms) => ms < 1_000),
        `refused after ${waits.join(', ')} ms (poll at 60 s: Redis did it)`,
      );
      assert.equal((await call(lb.url, key)).status, 401);
    });

    it('a limit edit and a rotation made on one replica hold on all three within 1 s', async (t) => {
      const { id, key } = await keyWith({ rpm: 1_000 });
      // Each replica counts a request first, so none answers from a key it has never seen.
      for (const r of replicas) assert.equal((await call(r.url, key)).status, 200);
      let started = Date.now();
      await admin.json('PATCH', `/admin/api/keys/${id}`, { limits: { rpm: 7 } });
      const edited = await Promise.all(
        replicas.map(async (r) => {
          while ((await call(r.url, key, '/v1/models')).headers.get('x-ratelimit-limit-requests') !== '7') {
            if (Date.now() - started > 5_000) return Number.POSITIVE_INFINITY;
            await sleep(10);
          }
          return Date.now() - started;
        }),
      );
      started = Date.now();
      const rotated = await admin.json<{ key: string }>('POST', `/admin/api/keys/${id}/rotate`, { graceHours: 0 });
      const refusedOld = await Promise.all(
        replicas.map(async (r) => {
          while ((await call(r.url, key, '/v1/models')).status !== 401) {
            if (Date.now() - started > 5_000) return Number.POSITIVE_INFINITY;
            await sleep(10);
          }
          return Date.now() - started;
        }),
      );
      t.diagnostic(
        `limit edit seen after ${edited.join(', ')} ms; old secret refused after ${refusedOld.join(', ')} ms`,
      );
      assert.ok(
        edited.every((ms) => ms < 1_000),
        `edit: ${edited.join(', ')} ms`,
      );
      assert.ok(
        refusedOld.every((ms) => ms < 1_000),
        `rotation: ${refusedOld.join(', ')} ms`,
      );
      for (const r of replicas) assert.equal((await call(r.url, rotated.key, '/v1/models')).status, 200);
    });

    it("a tenant's suspension, and its lifting, made on one replica hold on all three within 1 s", async (t) => {
      // Tenants are cached on first use like keys (decision 0039): each replica has acme in memory first.
      const { key } = await keyWith(null);
      /** Until every replica answers `status` for the key; the time each took from `started`. */
      const seen = (status: number, started: number) =>
        Promise.all(
          replicas.map(async (r) => {
            while ((await call(r.url, key, '/v1/models')).status !== status) {
              if (Date.now() - started > 5_000) return Number.POSITIVE_INFINITY;
              await sleep(10);
            }
            return Date.now() - started;
          }),
        );
      let started = Date.now();
      await admin.json('POST', '/admin/api/tenants/acme/suspend', { reason: 'test' });
      const suspended = await seen(403, started);
      started = Date.now();
      await admin.json('POST', '/admin/api/tenants/acme/unsuspend', {});
      const lifted = await seen(200, started);
      t.diagnostic(`suspension seen after ${suspended.join(', ')} ms; lifted after ${lifted.join(', ')} ms`);
      assert.ok(
        suspended.every((ms) => ms < 1_000),
        `suspension: ${suspended.join(', ')} ms`,
      );
      assert.ok(
        lifted.every((ms) => ms < 1_000),
        `lifting: ${lifted.join(', ')} ms`,
      );
    });

    it('SIGKILL of one replica mid-load: the others go on serving, no usage record is lost', async (t) => {
      // The victim writes its usage records to the database only every 10 minutes: when it is killed, every
      // record of what it served is in its journal alone (appended before each answer’s last byte).
      await replicas[2]!.stop('SIGTERM');
      const slowFlush: ConfigInput = { ...config, usage: { flushIntervalMs: 600_000, batchSize: 100_000 } };
      replicas[2] = await spawnGateway(slowFlush, dataDirs[2]);
      lb.replace(2, replicas[2].url);
      const { key } = await keyWith(null);
      const total = 120;
      const concurrency = 6;
      const calls: Array<Call & { afterExit: boolean }> = [];
      let sent = 0;
      const victim = replicas[2]!;
      let exited = false;
      victim.child.once('exit', () => {
        exited = true;
      });
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (sent < total) {
            sent++;
            if (sent === 40) victim.child.kill('SIGKILL');
            const afterExit = exited;
            // A replica killed after its answer's head went out cannot be answered 502 by the load balancer
            // (as with nginx, the client's connection is closed): status 0, a cut like the 502s.
            const cut: Call = { status: 0, requestId: null, headers: new Headers(), body: '' };
            calls.push({ ...(await call(lb.url, key).catch(() => cut)), afterExit });
          }
        }),
      );
      const served = calls.filter((c) => c.status === 200);
      const failed = calls.filter((c) => c.status !== 200);
      assert.ok(exited, 'the replica was killed');
      assert.ok(calls.filter((c) => c.afterExit).length > 50, 'most of the load ran after the kill');
      // Cut: the requests the victim held when it died (in flight, or sent between the signal and its death):
      // 502 from the load balancer, or a closed connection (0) when the victim had begun its answer.
      assert.ok(
        failed.length <= 2 * concurrency && failed.every((c) => (c.status === 502 || c.status === 0) && !c.afterExit),
        `only requests the killed replica held fail: ${calls.map((c) => `${c.status}${c.afterExit ? '' : '*'}`).join(',')}`,
      );
      assert.ok(
        calls.filter((c) => c.afterExit).every((c) => c.status === 200),
        'every request sent after its death is served by the others',
      );

      // The killed replica's journal holds what it answered but had not written yet: a restart on the same
      // data folder imports it. Then every replica stops cleanly (flushing its queue).
      await victim.stop('SIGKILL');
      replicas[2] = await spawnGateway({ ...config, logging: { level: 'info' } }, dataDirs[2]);
      await Promise.all(replicas.map((r) => r.stop('SIGTERM')));
      const recovered = /"imported":(\d+)[^\n]*recovered from the journal/.exec(replicas[2].output());
      assert.ok(recovered && Number(recovered[1]) > 0, 'the restarted replica imported its journal');
      t.diagnostic(
        `${served.length} served, ${failed.length} cut by the kill (502 or closed), ${recovered[1]} records imported from the killed replica's journal`,
      );
      const ids = served.map((c) => c.requestId!);
      const rows = await db.query(
        `select request_id, count(*)::int as n from "${schema}".usage_record where request_id = any($1) group by request_id`,
        [ids],
      );
      const found = new Map(rows.rows.map((r: { request_id: string; n: number }) => [r.request_id, r.n]));
      const lost = ids.filter((id) => !found.has(id));
      assert.deepEqual(lost, [], `${lost.length} of ${ids.length} served requests have no usage record`);
      assert.ok(
        [...found.values()].every((n) => n === 1),
        'each recorded once',
      );
    });
  });
}
