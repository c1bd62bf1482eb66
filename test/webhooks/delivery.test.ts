import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, it, mock } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { parseConfig } from '../../src/config/load.ts';
import { createLogger } from '../../src/ops/logger.ts';
import type { Store } from '../../src/store/db.ts';
import { WebhookDeliverer } from '../../src/webhooks/deliverer.ts';
import { WebhookOutbox } from '../../src/webhooks/outbox.ts';
import { createWebhooks, type Webhooks } from '../../src/webhooks/webhooks.ts';
import { forEachDatabase } from '../helpers/databases.ts';
import { type Receiver, startReceiver } from './receiver.ts';

/**
 * Webhook delivery against real loopback receivers, on SQLite and PostgreSQL: signatures verified with the
 * Standard Webhooks package, the retry schedule (shrunk by configuration), a receiver down then up, leases
 * that outlive a dead deliverer, two deliverers on one outbox, redelivery, secret rotation, tenant isolation.
 */

const logger = createLogger('silent');

function webhooksConfig(extra: Record<string, unknown> = {}) {
  return parseConfig({
    webhooks: {
      allowPrivateNetworks: true,
      retryScheduleMs: [60, 120, 240],
      jitter: 0,
      pollMs: 20,
      timeoutMs: 1_000,
      leaseMs: 1_500,
      ...extra,
    },
  }).webhooks;
}

const running: Array<{ close(): Promise<void> }> = [];

async function build(store: Store, dataDir: string, extra: Record<string, unknown> = {}): Promise<Webhooks> {
  const w = await createWebhooks({
    db: store.db,
    dialect: store.dialect,
    config: webhooksConfig(extra),
    env: {},
    dataDir,
    logger,
  });
  w.start();
  running.push(w);
  return w;
}

/** Stops every deliverer a test started, even when it failed half-way. */
async function closeAll(): Promise<void> {
  for (const r of running.splice(0)) await r.close();
}

let seq = 0;
function message(tenantId: string, url: string, data: Record<string, unknown> = { id: 'exec_1', status: 'COMPLETED' }) {
  return { tenantId, url, messageId: `msg_${process.pid}_${++seq}`, type: 'execution.completed', data };
}

async function until<T>(read: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`condition not met in ${timeoutMs} ms: ${JSON.stringify(v)}`);
    await sleep(15);
  }
}

forEachDatabase('webhook delivery', (suite) => {
  let receiver: Receiver;
  let w: Webhooks;
  let dataDir: string;

  before(async () => {
    receiver = await startReceiver();
    dataDir = mkdtempSync(join(tmpdir(), 'modro-webhooks-'));
  });
  after(async () => {
    await closeAll();
    await receiver.stop();
  });
  afterEach(closeAll);

  it('delivers a signed message that Webhook.verify accepts; tampered, stale and replayed copies fail it', async () => {
    w = await build(suite.getStore(), dataDir);
    receiver.received.length = 0;
    receiver.behaviour = 200;
    const msg = message('acme', receiver.url, { id: 'exec_abc', status: 'COMPLETED', output: { text: 'hi' } });
    await w.outbox.enqueue(suite.getStore().db, msg);
    const [got] = await receiver.waitFor(1);
    assert.ok(got);
    assert.equal(got.headers['webhook-id'], msg.messageId);
    assert.equal(got.headers['content-type'], 'application/json');
    const { secret } = await w.secrets.get('acme');
    assert.match(secret, /^whsec_/);
    const verifier = new Webhook(secret);
    const payload = verifier.verify(got.body, got.headers) as { type: string; timestamp: string; data: unknown };
    assert.equal(payload.type, 'execution.completed');
    assert.deepEqual(payload.data, { id: 'exec_abc', status: 'COMPLETED', output: { text: 'hi' } });
    assert.ok(!Number.isNaN(Date.parse(payload.timestamp)));

    // Tampered: one byte of the body changed.
    assert.throws(
      () => verifier.verify(got.body.replace('exec_abc', 'exec_abd'), got.headers),
      WebhookVerificationError,
    );
    // Another tenant's secret does not verify it.
    const other = (await w.secrets.get('other-tenant')).secret;
    assert.throws(() => new Webhook(other).verify(got.body, got.headers), WebhookVerificationError);
    // Stale: a timestamp more than 5 minutes old, re-signed properly with the right secret, still fails.
    const old = new Date(Date.now() - 6 * 60_000);
    const staleHeaders = {
      ...got.headers,
      'webhook-timestamp': String(Math.floor(old.getTime() / 1000)),
      'webhook-signature': verifier.sign(msg.messageId, old, got.body),
    };
    assert.throws(() => verifier.verify(got.body, staleHeaders), WebhookVerificationError);
    // Replayed: the exact request (same id, timestamp and signature) presented after the 5-minute tolerance.
    mock.timers.enable({ apis: ['Date'], now: Date.now() + 6 * 60_000 });
    try {
      assert.throws(() => verifier.verify(got.body, got.headers), WebhookVerificationError);
    } finally {
      mock.timers.reset();
    }

    const deliveryId = (await w.outbox.list('acme', { limit: 1, messageId: msg.messageId })).rows[0]!.id;
    const row = await until(
      () => w.outbox.get('acme', deliveryId),
      (r) => r?.state === 'delivered',
    );
    assert.equal(row!.attempts, 1);
    const attempts = (await w.outbox.attemptsOf('acme', [row!.id])).get(row!.id)!;
    assert.equal(attempts.length, 1);
    assert.equal(attempts[0]!.status, 200);
    assert.equal(attempts[0]!.excerpt, 'ok');
    await w.close();
  });

  it('retries failures on the schedule with the same webhook-id, recording every attempt, then delivers', async () => {
    w = await build(suite.getStore(), dataDir);
    receiver.received.length = 0;
    receiver.behaviour = (_req, i) => (i < 2 ? 500 : 200);
    receiver.answer = 'x'.repeat(5000);
    const msg = message('acme', receiver.url);
    await w.outbox.enqueue(suite.getStore().db, msg);
    const got = await receiver.waitFor(3);
    assert.deepEqual(
      got.map((g) => g.headers['webhook-id']),
      [msg.messageId, msg.messageId, msg.messageId],
    );
    // The body is byte-identical on every attempt; each attempt is signed at its own time and verifies.
    const { secret } = await w.secrets.get('acme');
    for (const g of got) {
      assert.equal(g.body, got[0]!.body);
      new Webhook(secret).verify(g.body, g.headers);
    }
    // Waits of at least 60 then 120 ms (schedule, jitter 0).
    assert.ok(got[1]!.at - got[0]!.at >= 55, `first wait ${got[1]!.at - got[0]!.at} ms`);
    assert.ok(got[2]!.at - got[1]!.at >= 115, `second wait ${got[2]!.at - got[1]!.at} ms`);
    const id = (await w.outbox.list('acme', { limit: 1, messageId: msg.messageId })).rows[0]!.id;
    const row = await until(
      () => w.outbox.get('acme', id),
      (r) => r?.state === 'delivered',
    );
    assert.equal(row!.attempts, 3);
    const attempts = (await w.outbox.attemptsOf('acme', [id])).get(id)!;
    assert.deepEqual(
      attempts.map((a) => a.status),
      [500, 500, 200],
    );
    // Never more of an answer than a short excerpt.
    for (const a of attempts) assert.ok((a.excerpt ?? '').length <= 256);
    assert.ok(attempts.every((a) => a.duration_ms >= 0 && a.at > 0));
    assert.equal(receiver.received.length, 3, 'no attempt after the 2xx');
    receiver.answer = 'ok';
    await w.close();
  });

  it('gives up after the last scheduled wait and marks the delivery failed', async () => {
    w = await build(suite.getStore(), dataDir);
    receiver.received.length = 0;
    receiver.behaviour = 503;
    const msg = message('acme', receiver.url);
    await w.outbox.enqueue(suite.getStore().db, msg);
    const id = (await w.outbox.list('acme', { limit: 1, messageId: msg.messageId })).rows[0]!.id;
    const row = await until(
      () => w.outbox.get('acme', id),
      (r) => r?.state === 'failed',
    );
    // The first attempt and one after each of the 3 waits.
    assert.equal(row!.attempts, 4);
    assert.equal(row!.last_status, 503);
    await sleep(300);
    assert.equal(receiver.received.length, 4);
    assert.equal(w.deliverer.outcomes.failed, 1);
    assert.equal(w.deliverer.outcomes.retrying, 3);

    // Manual redelivery: one more attempt now, same webhook-id, marked manual; no new schedule after it.
    receiver.behaviour = 200;
    const again = await w.outbox.redeliver('acme', id);
    assert.equal(again!.state, 'pending');
    w.deliverer.wake();
    const delivered = await until(
      () => w.outbox.get('acme', id),
      (r) => r?.state === 'delivered',
    );
    assert.equal(delivered!.attempts, 5);
    assert.equal(receiver.received.at(-1)!.headers['webhook-id'], msg.messageId);
    const attempts = (await w.outbox.attemptsOf('acme', [id])).get(id)!;
    assert.deepEqual(
      attempts.map((a) => a.manual),
      [0, 0, 0, 0, 1],
    );
    // Redelivering a delivered message sends it once more, with the same id.
    await w.outbox.redeliver('acme', id);
    w.deliverer.wake();
    await receiver.waitFor(6);
    assert.equal(receiver.received[5]!.headers['webhook-id'], msg.messageId);
    await w.close();
  });

  it('a receiver that is down, then up, gets the message once it is up, with the same webhook-id', async () => {
    const down = await startReceiver();
    const port = down.port;
    await down.stop();
    w = await build(suite.getStore(), dataDir, { retryScheduleMs: [100, 100, 100, 100, 100, 100, 100, 100] });
    const msg = message('acme', down.url);
    await w.outbox.enqueue(suite.getStore().db, msg);
    const id = (await w.outbox.list('acme', { limit: 1, messageId: msg.messageId })).rows[0]!.id;
    await until(
      () => w.outbox.get('acme', id),
      (r) => (r?.attempts ?? 0) >= 2,
    );
    const refused = (await w.outbox.attemptsOf('acme', [id])).get(id)!;
    assert.ok(
      refused.every((a) => a.status === null && a.error === 'connection_refused'),
      JSON.stringify(refused),
    );
    down.port = port;
    await down.start();
    const [got] = await down.waitFor(1);
    assert.equal(got!.headers['webhook-id'], msg.messageId);
    await until(
      () => w.outbox.get('acme', id),
      (r) => r?.state === 'delivered',
    );
    await sleep(300);
    assert.equal(down.received.length, 1, 'delivered once');
    await w.close();
    await down.stop();
  });

  it('the message exists exactly when the enqueuing transaction commits; the same message id twice is one delivery', async () => {
    const { db } = suite.getStore();
    const outbox = new WebhookOutbox({ db, dialect: suite.getStore().dialect });
    const rolledBack = message('txn', receiver.url);
    await assert.rejects(
      db.transaction().execute(async (trx) => {
        await outbox.enqueue(trx, rolledBack);
        throw new Error('state change failed');
      }),
      /state change failed/,
    );
    assert.equal((await outbox.list('txn', { limit: 10, messageId: rolledBack.messageId })).rows.length, 0);
    const committed = message('txn', receiver.url);
    await db.transaction().execute(async (trx) => {
      await outbox.enqueue(trx, committed);
      await outbox.enqueue(trx, committed);
    });
    await outbox.enqueue(db, committed);
    const rows = (await outbox.list('txn', { limit: 10 })).rows;
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.message_id, committed.messageId);
  });

  it('a claim whose deliverer died is due again after the lease, and delivered with the same id', async () => {
    const fresh = await suite.fresh();
    const outbox = new WebhookOutbox({ db: fresh.store.db, dialect: fresh.store.dialect });
    receiver.received.length = 0;
    receiver.behaviour = 200;
    const msg = message('lease', receiver.url);
    await outbox.enqueue(fresh.store.db, msg);
    // A deliverer claims it, then "dies" (never records anything).
    const claimed = await outbox.claim(10, 400);
    assert.equal(claimed.length, 1);
    assert.equal((await outbox.claim(10, 400)).length, 0, 'not claimable while leased');
    const started = Date.now();
    w = await build(fresh.store, dataDir, { leaseMs: 1_500 });
    const [got] = await receiver.waitFor(1);
    assert.ok(Date.now() - started >= 300, 'waited for the lease');
    assert.equal(got!.headers['webhook-id'], msg.messageId);
    const delivered = await until(
      () => outbox.get('lease', claimed[0]!.row.id),
      (r) => r?.state === 'delivered',
    );
    // The dead claim's late result cannot overwrite the row: its token is no longer the row's.
    const late = await outbox.record(
      claimed[0]!,
      Date.now(),
      { ok: false, status: 500, error: null, excerpt: null, durationMs: 1 },
      10,
    );
    assert.equal(late, undefined);
    const row = await outbox.get('lease', delivered!.id);
    assert.equal(row!.state, 'delivered');
    // The dead claim is on record as interrupted, then the attempt that delivered, then the late result (an
    // attempt that happened is always recorded, though it no longer moves the delivery).
    const attempts = (await outbox.attemptsOf('lease', [row!.id])).get(row!.id)!;
    assert.deepEqual(
      attempts.map((a) => [a.error, a.status]),
      [
        ['interrupted', null],
        [null, 200],
        [null, 500],
      ],
    );
    assert.equal(row!.attempts, 2);
    await w.close();
  });

  it('two deliverers on one outbox deliver every message once', async () => {
    const fresh = await suite.fresh();
    receiver.received.length = 0;
    receiver.behaviour = 200;
    const a = await build(fresh.store, dataDir);
    // A second deliverer, as another replica would run it: its own outbox object on the same tables.
    const b = new WebhookDeliverer({
      outbox: new WebhookOutbox({ db: fresh.store.db, dialect: fresh.store.dialect }),
      secrets: a.secrets,
      policy: a.policy,
      lookup: async () => [{ address: '127.0.0.1', family: 4 }],
      logger,
      retryScheduleMs: [50],
      jitter: 0,
      timeoutMs: 1_000,
      maxResponseBytes: 1024,
      leaseMs: 5_000,
      pollMs: 10,
      concurrency: 4,
      perHostConcurrency: 4,
    });
    b.start();
    running.push(b);
    const ids = new Set<string>();
    for (let i = 0; i < 40; i++) {
      const msg = message('pair', receiver.url);
      ids.add(msg.messageId);
      await a.outbox.enqueue(fresh.store.db, msg);
    }
    await receiver.waitFor(40);
    await sleep(300);
    const seen = receiver.received.map((r) => r.headers['webhook-id']!);
    assert.equal(seen.length, 40);
    assert.deepEqual(new Set(seen), ids);
    assert.ok(a.deliverer.outcomes.delivered + b.outcomes.delivered === 40);
    await a.close();
    await b.close();
  });

  it('rotation: the old secret keeps signing beside the new one for the overlap, then only the new one', async () => {
    const fresh = await suite.fresh();
    // An overlap the first delivery fits in on a loaded machine (400 ms did not once: it went out with one signature).
    w = await build(fresh.store, dataDir, { rotationOverlapMs: 5_000 });
    receiver.received.length = 0;
    receiver.behaviour = 200;
    const before = (await w.secrets.get('rot')).secret;
    const rotated = await w.secrets.rotate('rot');
    assert.notEqual(rotated.secret, before);
    assert.ok(rotated.previousValidUntil! > Date.now());
    await w.outbox.enqueue(fresh.store.db, message('rot', receiver.url));
    const [first] = await receiver.waitFor(1);
    assert.equal(first!.headers['webhook-signature']!.split(' ').length, 2);
    new Webhook(before).verify(first!.body, first!.headers);
    new Webhook(rotated.secret).verify(first!.body, first!.headers);
    await sleep(Math.max(0, rotated.previousValidUntil! - Date.now()) + 50);
    await w.outbox.enqueue(fresh.store.db, message('rot', receiver.url));
    const [, second] = await receiver.waitFor(2);
    assert.equal(second!.headers['webhook-signature']!.split(' ').length, 1);
    new Webhook(rotated.secret).verify(second!.body, second!.headers);
    assert.throws(() => new Webhook(before).verify(second!.body, second!.headers), WebhookVerificationError);
    await w.close();
  });

  it('closing a deliverer mid-attempt hands the delivery back, due at once, without recording an attempt', async () => {
    const fresh = await suite.fresh();
    const hanging = await startReceiver({ behaviour: 'hang' });
    try {
      w = await build(fresh.store, dataDir, { leaseMs: 60_000, timeoutMs: 30_000 });
      await w.outbox.enqueue(fresh.store.db, message('close', hanging.url));
      await hanging.waitFor(1);
      const claimed = (await w.outbox.list('close', { limit: 1 })).rows[0]!;
      assert.ok(claimed.lease_token !== null && claimed.next_at > Date.now() + 50_000, 'leased for a minute');
      const closing = Date.now();
      await w.close();
      assert.ok(Date.now() - closing < 2_000, 'close did not wait for the receiver');
      const row = (await w.outbox.get('close', claimed.id))!;
      assert.equal(row.state, 'pending');
      assert.equal(row.lease_token, null);
      assert.ok(row.next_at <= Date.now());
      assert.equal(row.attempts, 0);
      assert.equal((await w.outbox.attemptsOf('close', [row.id])).size, 0);
    } finally {
      await hanging.stop();
    }
  });

  it('a URL that can never be sent to fails at once; a refused address is retried (DNS or settings may change)', async () => {
    const fresh = await suite.fresh();
    w = await build(fresh.store, dataDir, { allowPrivateNetworks: false, retryScheduleMs: [30, 30] });
    await w.outbox.enqueue(fresh.store.db, message('bad-url', 'ftp://example.com/hook'));
    await w.outbox.enqueue(fresh.store.db, message('blocked', 'http://127.0.0.1:9/hook'));
    const bad = await until(
      async () => (await w.outbox.list('bad-url', { limit: 1 })).rows[0],
      (r) => r?.state === 'failed',
    );
    assert.equal(bad!.attempts, 1);
    assert.equal(bad!.last_error, 'invalid_url');
    const blocked = await until(
      async () => (await w.outbox.list('blocked', { limit: 1 })).rows[0],
      (r) => r?.state === 'failed',
    );
    assert.equal(blocked!.attempts, 3);
    assert.equal(blocked!.last_error, 'blocked_address');
  });

  it('a slow receiver holds at most perHostConcurrency slots: other hosts are delivered meanwhile', async () => {
    const fresh = await suite.fresh();
    const slow = await startReceiver({ behaviour: 'hang' });
    const fast = await startReceiver({ behaviour: 200 });
    try {
      w = await build(fresh.store, dataDir, {
        concurrency: 4,
        perHostConcurrency: 2,
        timeoutMs: 5_000,
        leaseMs: 10_000,
      });
      for (let i = 0; i < 10; i++) await w.outbox.enqueue(fresh.store.db, message('slow', slow.url));
      await slow.waitFor(2);
      const started = Date.now();
      for (let i = 0; i < 6; i++) await w.outbox.enqueue(fresh.store.db, message('fast', fast.url));
      await fast.waitFor(6);
      assert.ok(Date.now() - started < 4_000, 'delivered while the slow receiver held its two');
      assert.equal(slow.received.length, 2, 'never more than two at once to the slow host');
      const pending = (await w.outbox.list('slow', { limit: 20 })).rows;
      assert.equal(pending.filter((r) => r.lease_token !== null).length, 2);
      assert.ok(pending.every((r) => r.attempts === 0));
    } finally {
      await w.close();
      await slow.stop();
      await fast.stop();
    }
  });

  it('pruning deletes finished deliveries older than the retention, with their attempts, never pending ones', async () => {
    const { db, dialect } = suite.getStore();
    const longAgo = Date.now() - 40 * 86_400_000;
    const old = new WebhookOutbox({ db, dialect, now: () => longAgo });
    for (let i = 0; i < 3; i++) await old.enqueue(db, message('prune', 'http://127.0.0.1:9/x'));
    await new WebhookOutbox({ db, dialect }).enqueue(db, message('prune', 'http://127.0.0.1:9/x'));
    const rows = (await old.list('prune', { limit: 10 })).rows;
    assert.equal(rows.length, 4);
    const [recent, a, b, c] = rows;
    const claimed = await old.claim(10, 1_000);
    for (const cl of claimed.filter((x) => x.row.tenant_id === 'prune' && [a!.id, b!.id].includes(x.row.id))) {
      await old.record(
        cl,
        longAgo,
        { ok: cl.row.id === a!.id, status: 200, error: null, excerpt: null, durationMs: 1 },
        undefined,
      );
    }
    for (const cl of claimed.filter((x) => !(x.row.tenant_id === 'prune' && [a!.id, b!.id].includes(x.row.id)))) {
      await old.release(cl);
    }
    assert.deepEqual(
      [(await old.get('prune', a!.id))!.state, (await old.get('prune', b!.id))!.state],
      ['delivered', 'failed'],
    );
    const deleted = await old.prune(Date.now() - 30 * 86_400_000, 1);
    assert.ok(deleted >= 2);
    const left = (await old.list('prune', { limit: 10 })).rows.map((r) => r.id).sort();
    assert.deepEqual(left, [recent!.id, c!.id].sort(), 'the recent one and the old pending one stay');
    const orphans = await db
      .selectFrom('webhook_attempt')
      .select('id')
      .where('delivery_id', 'in', [a!.id, b!.id])
      .execute();
    assert.equal(orphans.length, 0);
  });

  it("tenant isolation: another tenant's delivery is not found, listed or redelivered", async () => {
    const { db, dialect } = suite.getStore();
    const outbox = new WebhookOutbox({ db, dialect });
    const msg = message('iso-a', 'http://127.0.0.1:9/x');
    await outbox.enqueue(db, msg);
    const id = (await outbox.list('iso-a', { limit: 1 })).rows[0]!.id;
    assert.equal(await outbox.get('iso-b', id), undefined);
    assert.equal(await outbox.redeliver('iso-b', id), undefined);
    assert.equal((await outbox.list('iso-b', { limit: 10 })).rows.length, 0);
    assert.equal((await outbox.attemptsOf('iso-b', [id])).size, 0);
    assert.equal((await outbox.list('iso-a', { limit: 10, startingAfter: id })).rows.length, 0);
  });
});
