import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Webhook } from 'standardwebhooks';
import type { TestGateway } from '../helpers/gateway.ts';
import {
  type AdminClient,
  adminClient,
  createKey,
  createTenantWithKey,
  startTenancyGateway,
} from '../tenancy/helpers.ts';
import { type Receiver, startReceiver } from './receiver.ts';

/**
 * The tenant's webhook API through a running gateway, authenticated with managed keys of two tenants: the
 * delivery log with attempts, manual redelivery, the signing secret and its rotation, key scopes, 404 for
 * another tenant's delivery, and the delivery metrics.
 */

interface DeliveryJson {
  id: string;
  message_id: string;
  status: string;
  attempt_count: number;
  attempts: Array<{
    status_code: number | null;
    error: string | null;
    manual: boolean;
    response_excerpt: string | null;
  }>;
}

async function poll<T>(read: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (ok(v) || Date.now() > deadline) return v;
    await sleep(20);
  }
}

describe('webhook API', () => {
  let gw: TestGateway;
  let admin: AdminClient;
  let receiver: Receiver;
  let keyA: string;
  let keyB: string;

  const call = (key: string | undefined, method: string, path: string) =>
    fetch(`${gw.url}${path}`, { method, headers: key ? { authorization: `Bearer ${key}` } : {} });
  const json = async <T>(res: Response, status: number): Promise<T> => {
    const text = await res.text();
    assert.equal(res.status, status, text);
    return JSON.parse(text) as T;
  };

  before(async () => {
    receiver = await startReceiver({ behaviour: 200 });
    gw = await startTenancyGateway({
      webhooks: { allowPrivateNetworks: true, pollMs: 20, retryScheduleMs: [50], jitter: 0 },
    });
    admin = await adminClient(gw);
    keyA = (await createTenantWithKey(admin, { id: 'hooks-a' })).key;
    keyB = (await createTenantWithKey(admin, { id: 'hooks-b' })).key;
  });
  after(async () => {
    await gw.close();
    await receiver.stop();
  });

  async function deliveredTo(tenantId: string, messageId: string): Promise<void> {
    await gw.runtime.webhooks.outbox.enqueue(gw.runtime.store.db, {
      tenantId,
      url: receiver.url,
      messageId,
      type: 'execution.completed',
      data: { id: 'exec_api', status: 'COMPLETED' },
    });
    const deadline = Date.now() + 10_000;
    while (!receiver.received.some((r) => r.headers['webhook-id'] === messageId)) {
      assert.ok(Date.now() < deadline, 'delivered');
      await sleep(10);
    }
  }

  it('lists the tenant’s deliveries with their attempts; another tenant sees none and gets 404 by id', async () => {
    await deliveredTo('hooks-a', 'msg_api_1');
    const list = await poll(
      async () =>
        json<{ data: DeliveryJson[]; has_more: boolean }>(await call(keyA, 'GET', '/v1/webhooks/deliveries'), 200),
      (l) => l.data[0]?.status === 'delivered',
    );
    assert.equal(list.data.length, 1);
    const [d] = list.data;
    assert.equal(d!.message_id, 'msg_api_1');
    assert.equal(d!.status, 'delivered');
    assert.equal(d!.attempt_count, 1);
    assert.deepEqual(
      d!.attempts.map((a) => [a.status_code, a.error, a.manual, a.response_excerpt]),
      [[200, null, false, 'ok']],
    );
    const one = await json<DeliveryJson>(await call(keyA, 'GET', `/v1/webhooks/deliveries/${d!.id}`), 200);
    assert.equal(one.id, d!.id);

    const other = await json<{ data: unknown[] }>(await call(keyB, 'GET', '/v1/webhooks/deliveries'), 200);
    assert.deepEqual(other.data, []);
    for (const [method, path] of [
      ['GET', `/v1/webhooks/deliveries/${d!.id}`],
      ['POST', `/v1/webhooks/deliveries/${d!.id}/redeliver`],
    ] as const) {
      const err = await json<{ error: { code: string } }>(await call(keyB, method, path), 404);
      assert.equal(err.error.code, 'not_found');
    }
    assert.equal(receiver.received.filter((r) => r.headers['webhook-id'] === 'msg_api_1').length, 1);

    // Filters and paging.
    await deliveredTo('hooks-a', 'msg_api_2');
    const page1 = await json<{ data: DeliveryJson[]; has_more: boolean; last_id: string }>(
      await call(keyA, 'GET', '/v1/webhooks/deliveries?limit=1'),
      200,
    );
    assert.equal(page1.data[0]!.message_id, 'msg_api_2');
    assert.equal(page1.has_more, true);
    const page2 = await json<{ data: DeliveryJson[]; has_more: boolean }>(
      await call(keyA, 'GET', `/v1/webhooks/deliveries?limit=1&starting_after=${page1.last_id}`),
      200,
    );
    assert.equal(page2.data[0]!.message_id, 'msg_api_1');
    assert.equal(page2.has_more, false);
    const byMessage = await json<{ data: DeliveryJson[] }>(
      await call(keyA, 'GET', '/v1/webhooks/deliveries?message_id=msg_api_1'),
      200,
    );
    assert.deepEqual(
      byMessage.data.map((x) => x.message_id),
      ['msg_api_1'],
    );
    const bad = await json<{ error: { code: string; param: string } }>(
      await call(keyA, 'GET', '/v1/webhooks/deliveries?limit=0'),
      400,
    );
    assert.deepEqual([bad.error.code, bad.error.param], ['invalid_request', 'limit']);
    const badStatus = await json<{ error: { param: string } }>(
      await call(keyA, 'GET', '/v1/webhooks/deliveries?status=lost'),
      400,
    );
    assert.equal(badStatus.error.param, 'status');
  });

  it('redelivers with the same webhook-id, signed with the tenant’s secret from the API', async () => {
    const list = await json<{ data: DeliveryJson[] }>(
      await call(keyA, 'GET', '/v1/webhooks/deliveries?message_id=msg_api_1'),
      200,
    );
    const id = list.data[0]!.id;
    const before = receiver.received.length;
    const res = await json<DeliveryJson>(await call(keyA, 'POST', `/v1/webhooks/deliveries/${id}/redeliver`), 202);
    assert.equal(res.status, 'pending');
    await receiver.waitFor(before + 1);
    const got = receiver.received[before]!;
    assert.equal(got.headers['webhook-id'], 'msg_api_1');
    const secret = await json<{ secret: string; object: string }>(await call(keyA, 'GET', '/v1/webhooks/secret'), 200);
    assert.equal(secret.object, 'webhook_secret');
    new Webhook(secret.secret).verify(got.body, got.headers);
    const after = await poll(
      async () => json<DeliveryJson>(await call(keyA, 'GET', `/v1/webhooks/deliveries/${id}`), 200),
      (d) => d.attempt_count >= 2,
    );
    assert.deepEqual(
      after.attempts.map((a) => a.manual),
      [false, true],
    );
  });

  it('the signing secret: one per tenant, never cached, rotatable with an overlap', async () => {
    const resA = await call(keyA, 'GET', '/v1/webhooks/secret');
    assert.equal(resA.headers.get('cache-control'), 'no-store');
    const a = await json<{ secret: string }>(resA, 200);
    const b = await json<{ secret: string }>(await call(keyB, 'GET', '/v1/webhooks/secret'), 200);
    assert.match(a.secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
    assert.notEqual(a.secret, b.secret);
    const rotated = await json<{ secret: string; rotated_at: number; previous_valid_until: number }>(
      await call(keyA, 'POST', '/v1/webhooks/secret/rotate'),
      200,
    );
    assert.notEqual(rotated.secret, a.secret);
    assert.ok(rotated.previous_valid_until > Date.now() / 1000 + 3600);
    const again = await json<{ secret: string }>(await call(keyA, 'GET', '/v1/webhooks/secret'), 200);
    assert.equal(again.secret, rotated.secret);
    // B's secret is untouched.
    assert.equal(
      (await json<{ secret: string }>(await call(keyB, 'GET', '/v1/webhooks/secret'), 200)).secret,
      b.secret,
    );
    // Sealed at rest: the database row does not hold the secret.
    const row = await gw.runtime.store.db
      .selectFrom('webhook_secret')
      .selectAll()
      .where('tenant_id', '=', 'hooks-a')
      .executeTakeFirstOrThrow();
    assert.ok(!row.ciphertext.includes(rotated.secret.slice(6)));
    assert.ok(!row.previous_ciphertext!.includes(a.secret.slice(6)));
    assert.ok(gw.logs.every((line) => !line.includes(rotated.secret.slice(6)) && !line.includes(a.secret.slice(6))));
  });

  it('scopes: read-only reads the log but not the secret; webhooks manages; chat gets neither; no key is 401', async () => {
    const readOnly = (await createKey(admin, 'hooks-a', { limits: { scopes: ['read-only'] } })).key;
    const manage = (await createKey(admin, 'hooks-a', { limits: { scopes: ['webhooks'] } })).key;
    const chatOnly = (await createKey(admin, 'hooks-a', { limits: { scopes: ['chat'] } })).key;
    assert.equal((await call(readOnly, 'GET', '/v1/webhooks/deliveries')).status, 200);
    for (const [method, path] of [
      ['GET', '/v1/webhooks/secret'],
      ['POST', '/v1/webhooks/secret/rotate'],
      ['POST', '/v1/webhooks/deliveries/whd_x/redeliver'],
    ] as const) {
      const err = await json<{ error: { code: string } }>(await call(readOnly, method, path), 403);
      assert.equal(err.error.code, 'permission_denied');
      assert.equal((await call(chatOnly, method, path)).status, 403);
    }
    assert.equal((await call(chatOnly, 'GET', '/v1/webhooks/deliveries')).status, 403);
    assert.equal((await call(manage, 'GET', '/v1/webhooks/secret')).status, 200);
    // A key that may submit executions may verify and inspect their webhooks.
    const executions = (await createKey(admin, 'hooks-a', { limits: { scopes: ['executions'] } })).key;
    assert.equal((await call(executions, 'GET', '/v1/webhooks/secret')).status, 200);
    assert.equal((await call(executions, 'GET', '/v1/webhooks/deliveries')).status, 200);
    // A POST with an empty body labelled JSON, or with `{}`, is fine: these routes take no body.
    for (const body of [undefined, '{}', 'not json']) {
      const res = await fetch(`${gw.url}/v1/webhooks/secret/rotate`, {
        method: 'POST',
        headers: { authorization: `Bearer ${manage}`, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body }),
      });
      assert.equal(res.status, 200, await res.clone().text());
      await res.arrayBuffer();
    }
    assert.equal((await call(manage, 'GET', '/v1/webhooks/deliveries')).status, 200);
    const unauth = await json<{ error: { code: string } }>(
      await call(undefined, 'GET', '/v1/webhooks/deliveries'),
      401,
    );
    assert.equal(unauth.error.code, 'authentication_failed');
  });

  it('a delivery that fails for good is logged by id and error class, never its URL or payload', async () => {
    await gw.runtime.webhooks.outbox.enqueue(gw.runtime.store.db, {
      tenantId: 'hooks-a',
      url: 'http://127.0.0.1:1/hook?token=sekrit-url-token',
      messageId: 'msg_api_dead',
      type: 'execution.failed',
      data: { note: 'sekrit-payload' },
    });
    const row = await poll(
      async () => (await gw.runtime.webhooks.outbox.list('hooks-a', { limit: 1, messageId: 'msg_api_dead' })).rows[0],
      (r) => r?.state === 'failed',
    );
    assert.equal(row!.state, 'failed');
    assert.equal(row!.last_error, 'connection_refused');
    await poll(
      async () => gw.logs.some((l) => l.includes('webhook delivery failed for good')),
      (found) => found,
    );
    const line = gw.logs.find((l) => l.includes('webhook delivery failed for good'))!;
    assert.ok(line.includes(row!.id) && line.includes('connection_refused'), line);
    assert.ok(gw.logs.every((l) => !l.includes('sekrit-url-token') && !l.includes('sekrit-payload')));
  });

  it('metrics: attempts by outcome, queue depth and oldest due age', async () => {
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    const delivered = /modro_webhook_attempts_total\{outcome="delivered"\} (\d+)/.exec(text);
    assert.ok(delivered && Number(delivered[1]) >= 3, text.slice(0, 200));
    assert.match(text, /modro_webhook_attempts_total\{outcome="retrying"\} 1\n/);
    assert.match(text, /modro_webhook_attempts_total\{outcome="failed"\} 1\n/);
    assert.match(text, /modro_webhook_queue_depth 0\n/);
    assert.match(text, /modro_webhook_oldest_due_seconds 0\n/);
    // A delivery due for a while shows in both gauges, read from the outbox at scrape time.
    const db = gw.runtime.store.db;
    const now = Date.now();
    await db
      .insertInto('webhook_delivery')
      .values({
        id: 'whd_metrics',
        tenant_id: 'metrics',
        message_id: 'msg_metrics',
        type: 'x',
        url: receiver.url,
        host: '',
        payload: '{}',
        state: 'pending',
        attempts: 0,
        manual: 0,
        // Claimed by a deliverer elsewhere until its lease ran out 90 s ago.
        next_at: now - 90_000,
        lease_token: null,
        last_status: null,
        last_error: null,
        created_at: now - 100_000,
        updated_at: now - 100_000,
        delivered_at: null,
      })
      .execute();
    await gw.runtime.webhooks.close();
    const later = await (await fetch(`${gw.url}/metrics`)).text();
    assert.match(later, /modro_webhook_queue_depth 1\n/);
    const age = Number(/modro_webhook_oldest_due_seconds ([\d.]+)/.exec(later)![1]);
    assert.ok(age >= 90 && age < 120, String(age));
  });
});

describe('webhooks.deliver: false', () => {
  it('the gateway enqueues and answers the API but sends nothing; start({ evenIfOff }) (a worker) sends', async () => {
    const receiver = await startReceiver({ behaviour: 200 });
    const gw = await startTenancyGateway({ webhooks: { deliver: false, allowPrivateNetworks: true, pollMs: 20 } });
    try {
      const admin = await adminClient(gw);
      const { key } = await createTenantWithKey(admin, { id: 'quiet' });
      await gw.runtime.webhooks.outbox.enqueue(gw.runtime.store.db, {
        tenantId: 'quiet',
        url: receiver.url,
        messageId: 'msg_quiet',
        type: 'execution.completed',
        data: {},
      });
      const list = (await (
        await fetch(`${gw.url}/v1/webhooks/deliveries`, { headers: { authorization: `Bearer ${key}` } })
      ).json()) as { data: Array<{ id: string; status: string }> };
      assert.equal(list.data[0]!.status, 'pending');
      const redeliver = await fetch(`${gw.url}/v1/webhooks/deliveries/${list.data[0]!.id}/redeliver`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}` },
      });
      assert.equal(redeliver.status, 202);
      await sleep(300);
      assert.equal(receiver.received.length, 0);
      gw.runtime.webhooks.start();
      await sleep(200);
      assert.equal(receiver.received.length, 0, 'start() alone keeps to webhooks.deliver: false');
      gw.runtime.webhooks.start({ evenIfOff: true });
      await receiver.waitFor(1);
      assert.equal(receiver.received[0]!.headers['webhook-id'], 'msg_quiet');
    } finally {
      await gw.close();
      await receiver.stop();
    }
  });
});
