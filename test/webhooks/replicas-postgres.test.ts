import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { generateMasterKey } from '../../src/channels/master-key.ts';
import type { ConfigInput } from '../../src/config/schema.ts';
import { openStore } from '../../src/store/db.ts';
import { WebhookOutbox } from '../../src/webhooks/outbox.ts';
import { isCI } from '../helpers/ci.ts';
import { POSTGRES_TEST_URL } from '../helpers/databases.ts';
import { type GatewayProcess, spawnGateway } from '../helpers/gateway-process.ts';
import { type Receiver, startReceiver } from './receiver.ts';

/**
 * Two gateway processes on one PostgreSQL schema (replicas) deliver one outbox: every message reaches the
 * receiver exactly once (FOR UPDATE SKIP LOCKED), both processes take part (their metrics), and both sign with
 * the same tenant secret (the shared master key).
 */
const MESSAGES = 120;

const reachable = await (async () => {
  const client = new pg.Client({ connectionString: POSTGRES_TEST_URL, connectionTimeoutMillis: 2_000 });
  client.on('error', () => {});
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
})();

describe('webhook delivery by two replicas [postgres]', {
  skip: !reachable && !isCI() ? 'PostgreSQL unreachable' : false,
}, () => {
  const schema = `t_hook_replicas_${process.pid}`;
  const dirs = [mkdtempSync(join(tmpdir(), 'modro-hook-r1-')), mkdtempSync(join(tmpdir(), 'modro-hook-r2-'))];
  const processes: GatewayProcess[] = [];
  let receiver: Receiver | undefined;

  after(async () => {
    for (const p of processes) if (p.exitCode() === null) await p.stop('SIGKILL');
    await receiver?.stop();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    const client = new pg.Client({ connectionString: POSTGRES_TEST_URL });
    await client.connect();
    await client.query(`drop schema if exists "${schema}" cascade`);
    await client.end();
  });

  it('delivers every message exactly once, shared between both', async () => {
    receiver = await startReceiver({ behaviour: 200 });
    // The replicas' shared master key, through the environment they inherit.
    process.env['MODRO_MASTER_KEY'] = generateMasterKey();
    const apiKey = 'mdr-hook-replicas-0123456789';
    const config: ConfigInput = {
      storage: { kind: 'postgres', url: POSTGRES_TEST_URL, schema },
      auth: { keys: [{ id: 'k', key: apiKey }] },
      logging: { level: 'warn' },
      webhooks: { allowPrivateNetworks: true, pollMs: 20, concurrency: 4, perHostConcurrency: 4 },
    };
    for (const dir of dirs) processes.push(await spawnGateway(config, dir));
    delete process.env['MODRO_MASTER_KEY'];

    const store = await openStore({ kind: 'postgres', url: POSTGRES_TEST_URL, schema });
    try {
      const outbox = new WebhookOutbox({ db: store.db, dialect: store.dialect });
      for (let i = 0; i < MESSAGES; i++) {
        await outbox.enqueue(store.db, {
          tenantId: 'default',
          url: receiver.url,
          messageId: `msg_replica_${i}`,
          type: 'execution.completed',
          data: { i },
        });
      }
    } finally {
      await store.close();
    }
    await receiver.waitFor(MESSAGES, 60_000);
    await sleep(500);
    const ids = receiver.received.map((r) => r.headers['webhook-id']);
    assert.equal(ids.length, MESSAGES, 'no message twice');
    assert.equal(new Set(ids).size, MESSAGES);

    const delivered: number[] = [];
    for (const p of processes) {
      const text = await (await fetch(`${p.url}/metrics`)).text();
      delivered.push(Number(/modro_webhook_attempts_total\{outcome="delivered"\} (\d+)/.exec(text)?.[1] ?? 0));
    }
    assert.equal(
      delivered.reduce((a, b) => a + b, 0),
      MESSAGES,
      `delivered per replica: ${delivered.join(', ')}`,
    );
    assert.ok(
      delivered.every((n) => n > 0),
      `both replicas delivered: ${delivered.join(', ')}`,
    );
    // Both sign with the one secret the tenant sees.
    const secrets = await Promise.all(
      processes.map(async (p) => {
        const res = await fetch(`${p.url}/v1/webhooks/secret`, { headers: { authorization: `Bearer ${apiKey}` } });
        return ((await res.json()) as { secret: string }).secret;
      }),
    );
    assert.equal(secrets[0], secrets[1]);
    for (const p of processes) assert.equal(await p.stop(), 0, p.output().slice(-1500));
  });
});
