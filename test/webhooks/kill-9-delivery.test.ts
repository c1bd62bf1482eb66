import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { Webhook } from 'standardwebhooks';
import type { ConfigInput } from '../../src/config/schema.ts';
import { openStore, type StoreConfig } from '../../src/store/db.ts';
import { WebhookOutbox } from '../../src/webhooks/outbox.ts';
import { POSTGRES_TEST_URL } from '../helpers/databases.ts';
import { type GatewayProcess, spawnGateway } from '../helpers/gateway-process.ts';
import { type Receiver, startReceiver } from './receiver.ts';

/**
 * `kill -9` of a gateway process with webhook deliveries due and attempts under way (the receiver holds every
 * request open): after a restart on the same data, every message reaches the receiver with a 2xx, with its
 * own `webhook-id` unchanged, and verifies with the tenant's secret. At least once: a message whose attempt
 * the kill cut short may arrive twice, always with the same id.
 */
const API_KEY = 'mdr-kill9-webhooks-0123456789';
const MESSAGES = 12;

const pgReachable = await (async () => {
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

for (const kind of ['sqlite', 'postgres'] as const) {
  describe(`kill -9 with webhooks due [${kind}]`, {
    skip: kind === 'postgres' && !pgReachable ? 'PostgreSQL unreachable' : false,
  }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'modro-kill9-hooks-'));
    const schema = `t_kill9_hooks_${process.pid}`;
    const processes: GatewayProcess[] = [];
    let receiver: Receiver | undefined;

    after(async () => {
      // Only the processes this test started, by their own handle.
      for (const p of processes) if (p.exitCode() === null) await p.stop('SIGKILL');
      await receiver?.stop();
      rmSync(dir, { recursive: true, force: true });
      if (kind === 'postgres') {
        const client = new pg.Client({ connectionString: POSTGRES_TEST_URL });
        await client.connect();
        await client.query(`drop schema if exists "${schema}" cascade`);
        await client.end();
      }
    });

    it('every message is delivered after the restart, with its webhook-id unchanged', async () => {
      receiver = await startReceiver({ behaviour: 'hang' });
      const storage: StoreConfig =
        kind === 'sqlite' ? { kind, path: join(dir, 'modro.db') } : { kind, url: POSTGRES_TEST_URL, schema };
      // Messages enqueued before the gateway starts, as a committed state change leaves them.
      const store = await openStore(storage);
      const outbox = new WebhookOutbox({ db: store.db, dialect: store.dialect });
      const ids: string[] = [];
      for (let i = 0; i < MESSAGES; i++) {
        const messageId = `msg_kill9_${kind}_${i}`;
        ids.push(messageId);
        await outbox.enqueue(store.db, {
          tenantId: 'default',
          url: receiver.url,
          messageId,
          type: 'execution.completed',
          data: { id: `exec_${i}`, status: 'COMPLETED' },
        });
      }
      await store.close();

      const config: ConfigInput = {
        ...(kind === 'postgres' ? { storage: { kind, url: POSTGRES_TEST_URL, schema } } : {}),
        auth: { keys: [{ id: 'k', key: API_KEY }] },
        logging: { level: 'warn' },
        webhooks: {
          allowPrivateNetworks: true,
          concurrency: 4,
          pollMs: 50,
          timeoutMs: 5_000,
          leaseMs: 6_000,
          retryScheduleMs: [200, 200, 200, 200, 200],
          jitter: 0,
        },
      };
      const first = await spawnGateway(config, dir);
      processes.push(first);
      await receiver.waitFor(4, 20_000);
      first.child.kill('SIGKILL');
      await first.stop();
      assert.equal(first.child.signalCode, 'SIGKILL');
      const cut = receiver.received.length;
      assert.ok(cut >= 4, 'attempts were under way at the kill');

      receiver.behaviour = 200;
      const second = await spawnGateway(config, dir);
      processes.push(second);
      const deadline = Date.now() + 30_000;
      const answered = () => new Set(receiver!.received.slice(cut).map((r) => r.headers['webhook-id']));
      while (answered().size < MESSAGES) {
        assert.ok(Date.now() < deadline, `delivered ${answered().size} of ${MESSAGES} after the restart`);
        await sleep(50);
      }
      // Every request ever made carries one of the enqueued ids (no new id for a retried message).
      for (const r of receiver.received) assert.ok(ids.includes(r.headers['webhook-id']!), r.headers['webhook-id']);
      assert.deepEqual([...answered()].sort(), [...ids].sort());

      // Each delivered request verifies with the tenant's secret, which the API shows.
      const res = await fetch(`${second.url}/v1/webhooks/secret`, { headers: { authorization: `Bearer ${API_KEY}` } });
      assert.equal(res.status, 200);
      const { secret } = (await res.json()) as { secret: string };
      for (const r of receiver.received.slice(cut)) new Webhook(secret).verify(r.body, r.headers);

      // The log: every delivery delivered; the cut attempts were taken over after their lease.
      const list = await fetch(`${second.url}/v1/webhooks/deliveries?limit=100`, {
        headers: { authorization: `Bearer ${API_KEY}` },
      });
      const { data } = (await list.json()) as { data: Array<{ status: string; message_id: string }> };
      const deadline2 = Date.now() + 5_000;
      let statuses = data.map((d) => d.status);
      while (statuses.some((s) => s !== 'delivered') && Date.now() < deadline2) {
        await sleep(50);
        const again = await fetch(`${second.url}/v1/webhooks/deliveries?limit=100`, {
          headers: { authorization: `Bearer ${API_KEY}` },
        });
        statuses = ((await again.json()) as { data: Array<{ status: string }> }).data.map((d) => d.status);
      }
      assert.equal(statuses.length, MESSAGES);
      assert.ok(
        statuses.every((s) => s === 'delivered'),
        statuses.join(),
      );
      // The attempts the kill cut short are on record as interrupted.
      const log = await fetch(`${second.url}/v1/webhooks/deliveries?limit=100`, {
        headers: { authorization: `Bearer ${API_KEY}` },
      });
      const deliveries = ((await log.json()) as { data: Array<{ attempts: Array<{ error: string | null }> }> }).data;
      const interrupted = deliveries.flatMap((d) => d.attempts).filter((a) => a.error === 'interrupted').length;
      assert.ok(interrupted >= 1, `interrupted attempts: ${interrupted}`);
      assert.equal(await second.stop(), 0, second.output().slice(-2000));
    });
  });
}
