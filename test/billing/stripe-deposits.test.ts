import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import Stripe from 'stripe';
import type { Verification } from '../../src/billing/verify.ts';
import { isCI } from '../helpers/ci.ts';
import { POSTGRES_TEST_URL } from '../helpers/databases.ts';
import type { TestGateway } from '../helpers/gateway.ts';
import { MOCK_STRIPE_KEY, type MockStripe, startMockStripe } from '../mocks/stripe.ts';
import { type AdminClient, adminClient, startTenancyGateway } from '../tenancy/helpers.ts';

/**
 * Deposits through Stripe (docs/billing.md): a real gateway on loopback whose `stripe` SDK creates Checkout
 * sessions against a local mock of Stripe's API, and webhooks signed with the SDK's own test-header helper.
 * After every case the tenant's ledger is read back and `ledger verify` must pass.
 */

const WEBHOOK_SECRET = 'whsec_test_0123456789abcdefghijklmnopqrstuv';
const USD = 1_000_000_000;

interface Entry {
  kind: string;
  amount_nano: number;
  payment_id: string | null;
  admin: string | null;
  reason: string | null;
}
interface Answer {
  outcome?: string;
  amountNano?: number;
  error: { code: string; message: string };
}
interface Account {
  balanceNano: number;
  entries: Entry[];
}

/** A signed delivery of `event` (its exact bytes are what is signed), optionally with another secret or time. */
function signed(payload: string, options: { secret?: string; timestamp?: number } = {}) {
  return Stripe.webhooks.generateTestHeaderString({
    payload,
    secret: options.secret ?? WEBHOOK_SECRET,
    ...(options.timestamp !== undefined ? { timestamp: options.timestamp } : {}),
  });
}

let eventSeq = 0;
function event(type: string, object: Record<string, unknown>, id = `evt_test_${++eventSeq}`): string {
  return JSON.stringify({
    id,
    object: 'event',
    api_version: Stripe.API_VERSION,
    created: Math.floor(Date.now() / 1000),
    type,
    data: { object },
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
  });
}

function completedSession(
  tenant: string,
  cents: number,
  overrides: Record<string, unknown> = {},
  session = `cs_test_${tenant}_${cents}`,
): Record<string, unknown> {
  return {
    id: session,
    object: 'checkout.session',
    mode: 'payment',
    amount_total: cents,
    currency: 'usd',
    client_reference_id: tenant,
    metadata: { modro_tenant: tenant, modro_amount_nano: String(cents * 10_000_000) },
    payment_intent: `pi_${session}`,
    payment_status: 'paid',
    status: 'complete',
    ...overrides,
  };
}

async function postgresProblem(): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: POSTGRES_TEST_URL, connectionTimeoutMillis: 2_000 });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.end();
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}
const pgProblem = await postgresProblem();

for (const kind of ['sqlite', 'postgres'] as const) {
  describe(`Stripe deposits: Checkout through the SDK, signed webhooks into the ledger [${kind}]`, {
    skip: kind === 'postgres' && pgProblem !== undefined && !isCI() ? `PostgreSQL unreachable (${pgProblem})` : false,
  }, () => {
    const schema = `t_stripe_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
    let stripeMock: MockStripe;
    let gw: TestGateway;
    let admin: AdminClient;
    let tenantSeq = 0;

    const account = (id: string) => admin.json<Account>('GET', `/admin/api/tenants/${id}/account`);
    const verify = () => admin.json<Verification>('GET', '/admin/api/ledger/verify');

    async function tenant(): Promise<string> {
      const id = `st${++tenantSeq}`;
      await admin.json('POST', '/admin/api/tenants', { id });
      await admin.json('POST', `/admin/api/tenants/${id}/account`);
      return id;
    }

    async function deliver(payload: string, signature: string | null = signed(payload), type = 'application/json') {
      const res = await fetch(`${gw.url}/webhooks/stripe`, {
        method: 'POST',
        headers: { 'content-type': type, ...(signature !== null ? { 'stripe-signature': signature } : {}) },
        body: payload,
      });
      const text = await res.text();
      assert.doesNotMatch(text, /\bat .+\.ts:\d+|whsec_|sk_test_/, 'no stack trace or secret in the answer');
      return { status: res.status, body: JSON.parse(text) as Answer };
    }

    /** The ledger of a tenant is unchanged by `action`, and verifies. */
    async function unchanged(id: string, action: () => Promise<void>): Promise<void> {
      const before = await account(id);
      await action();
      const afterwards = await account(id);
      assert.equal(afterwards.balanceNano, before.balanceNano);
      assert.equal(afterwards.entries.length, before.entries.length);
      const v = await verify();
      assert.equal(v.ok, true, v.problems.join('; '));
    }

    const stripeEnv = { TEST_STRIPE_KEY: MOCK_STRIPE_KEY, TEST_STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET };
    const stripeSettings = () => ({
      secretKey: 'env:TEST_STRIPE_KEY',
      webhookSecret: 'env:TEST_STRIPE_WEBHOOK_SECRET',
      successUrl: 'https://modro.example/paid',
      cancelUrl: 'https://modro.example/cancelled',
      apiBase: stripeMock.url,
    });

    before(async () => {
      stripeMock = await startMockStripe();
      gw = await startTenancyGateway(
        {
          demo: { enabled: false },
          billing: {
            flushIntervalMs: 20,
            stripe: stripeSettings(),
          },
          ...(kind === 'postgres' ? { storage: { kind: 'postgres', url: POSTGRES_TEST_URL, schema } } : {}),
        },
        stripeEnv,
      );
      admin = await adminClient(gw);
    });
    after(async () => {
      await gw?.close();
      await stripeMock?.close();
      if (kind === 'postgres') {
        const client = new pg.Client({ connectionString: POSTGRES_TEST_URL });
        await client.connect();
        await client.query(`drop schema if exists "${schema}" cascade`);
        await client.end();
      }
    });

    test('the checkout is created by the SDK on the wire; a double submit with one idempotency key makes one session', async () => {
      const id = await tenant();
      const calls = stripeMock.calls.length;
      const submit = () =>
        admin.request(
          'POST',
          `/admin/api/tenants/${id}/checkout`,
          { amountUsd: '25.50' },
          { 'idempotency-key': `dep-${id}-1` },
        );
      const first = await submit();
      const second = await submit();
      assert.equal(first.status, 201, await first.clone().text());
      assert.equal(second.status, 201);
      const a = (await first.json()) as { url: string; sessionId: string; amountNano: number };
      const b = (await second.json()) as { url: string; sessionId: string };
      assert.equal(a.sessionId, b.sessionId);
      assert.equal(a.url, `https://checkout.stripe.com/c/pay/${a.sessionId}`);
      assert.equal(a.amountNano, 25_500_000_000);
      assert.equal([...stripeMock.sessions.values()].filter((s) => s.client_reference_id === id).length, 1);

      const made = stripeMock.calls.slice(calls);
      assert.equal(made.length, 2, 'both submits reached Stripe, with the same key');
      for (const call of made) {
        assert.equal(call.path, '/v1/checkout/sessions');
        assert.equal(call.headers['idempotency-key'], `dep-${id}-1`);
        assert.equal(call.headers['stripe-version'], Stripe.API_VERSION);
        assert.match(String(call.headers['content-type']), /^application\/x-www-form-urlencoded/);
        assert.equal(call.headers.authorization, `Bearer ${MOCK_STRIPE_KEY}`);
        assert.equal(call.form['line_items[0][price_data][unit_amount]'], '2550');
        assert.equal(call.form['line_items[0][price_data][currency]'], 'usd');
        assert.equal(call.form['metadata[modro_tenant]'], id);
        assert.equal(call.form['metadata[modro_amount_nano]'], '25500000000');
        assert.equal(call.form['payment_intent_data[metadata][modro_tenant]'], id);
        assert.equal(call.form['success_url'], 'https://modro.example/paid');
      }
      // The same key for another amount: Stripe's idempotency error, as a 409.
      const other = await admin.request(
        'POST',
        `/admin/api/tenants/${id}/checkout`,
        { amountUsd: '30' },
        { 'idempotency-key': `dep-${id}-1` },
      );
      assert.equal(other.status, 409, await other.clone().text());
      // Creating a session moves no money.
      assert.equal((await account(id)).entries.length, 0);
    });

    test('bad checkout amounts and tenants are refused before Stripe is called', async () => {
      const id = await tenant();
      const calls = stripeMock.calls.length;
      for (const amountUsd of ['0', '-5', '4.99', '25.001', '1e3', '10000.01', '99999999', 'ten', null]) {
        const res = await admin.request('POST', `/admin/api/tenants/${id}/checkout`, { amountUsd });
        assert.equal(res.status, 400, `${amountUsd}: ${await res.clone().text()}`);
      }
      const missing = await admin.request('POST', '/admin/api/tenants/nobody/checkout', { amountUsd: '10' });
      assert.equal(missing.status, 404);
      assert.equal(stripeMock.calls.length, calls);
      const noKey = await admin.request('POST', `/admin/api/tenants/${id}/checkout`, { amountUsd: '10' });
      assert.equal(noKey.status, 201);
      assert.equal(stripeMock.calls.at(-1)?.headers['idempotency-key']?.toString().startsWith('modro-'), true);
    });

    test('Stripe refusing the secret key is a 503 that names the setting and never shows the key', async () => {
      const id = await tenant();
      stripeMock.acceptedKey = 'sk_test_another_account';
      try {
        const res = await admin.request('POST', `/admin/api/tenants/${id}/checkout`, { amountUsd: '10' });
        const text = await res.text();
        assert.equal(res.status, 503, text);
        assert.match(text, /billing\.stripe\.secretKey/);
        assert.ok(!text.includes(MOCK_STRIPE_KEY) && !text.includes('sk_test_another_account'));
      } finally {
        stripeMock.acceptedKey = MOCK_STRIPE_KEY;
      }
      assert.equal((await account(id)).entries.length, 0);
    });

    test('a paid checkout.session.completed deposits the amount and its 4% fee, once, whatever replays', async () => {
      const id = await tenant();
      const payload = event('checkout.session.completed', completedSession(id, 2500));
      const first = await deliver(payload);
      assert.equal(first.status, 200, JSON.stringify(first.body));
      assert.equal(first.body.outcome, 'deposit');
      const acct = await account(id);
      assert.equal(acct.balanceNano, 24 * USD);
      assert.deepEqual(acct.entries.map((e) => [e.kind, e.amount_nano, e.payment_id, e.admin]).reverse(), [
        ['deposit', 25 * USD, `cs_test_${id}_2500/pi_cs_test_${id}_2500`, 'stripe'],
        ['deposit_fee', -1 * USD, `cs_test_${id}_2500/pi_cs_test_${id}_2500`, 'stripe'],
      ]);
      await unchanged(id, async () => {
        // The same event again (a replay inside the tolerance), and a second delivery under a new event id.
        const again = await deliver(payload);
        assert.equal(again.status, 200);
        assert.equal(again.body.outcome, 'duplicate');
        const dup = await deliver(event('checkout.session.completed', completedSession(id, 2500)));
        assert.equal(dup.body.outcome, 'duplicate');
        const async = await deliver(event('checkout.session.async_payment_succeeded', completedSession(id, 2500)));
        assert.equal(async.body.outcome, 'duplicate');
        // Concurrent deliveries of one new session: exactly one deposit (checked after the block).
      });
      const session = completedSession(id, 1000, {}, `cs_test_${id}_concurrent`);
      const results = await Promise.all(
        Array.from({ length: 5 }, () => deliver(event('checkout.session.completed', session))),
      );
      assert.deepEqual(results.map((r) => r.body.outcome).sort(), [
        'deposit',
        'duplicate',
        'duplicate',
        'duplicate',
        'duplicate',
      ]);
      assert.equal((await account(id)).balanceNano, 24 * USD + 9_600_000_000);
      assert.equal((await verify()).ok, true);
    });

    test('an event id is handled once: a replay of it is a duplicate whatever it carries, and is stored with its type and time', async () => {
      const id = await tenant();
      const eventId = `evt_replay_${id}`;
      const first = await deliver(event('checkout.session.completed', completedSession(id, 1500), eventId));
      assert.equal(first.body.outcome, 'deposit');
      await unchanged(id, async () => {
        // The same event id, freshly signed, for a session the ledger has never seen: the id alone stops it.
        const replay = await deliver(
          event('checkout.session.completed', completedSession(id, 2000, {}, `cs_test_${id}_other`), eventId),
        );
        assert.equal(replay.status, 200);
        assert.equal(replay.body.outcome, 'duplicate');
        // An ignored event type is kept too, and its replay is a duplicate.
        const ignoredId = `evt_ignored_${id}`;
        assert.equal((await deliver(event('customer.created', { id: 'cus_1' }, ignoredId))).body.outcome, 'ignored');
        assert.equal((await deliver(event('customer.created', { id: 'cus_1' }, ignoredId))).body.outcome, 'duplicate');
      });
      const rows = await gw.runtime.store.db
        .selectFrom('stripe_event')
        .selectAll()
        .where('id', 'in', [eventId, `evt_ignored_${id}`])
        .orderBy('id')
        .execute();
      assert.deepEqual(
        rows.map((r) => [r.id, r.type, r.outcome]),
        [
          [`evt_ignored_${id}`, 'customer.created', 'ignored'],
          [eventId, 'checkout.session.completed', 'deposit'],
        ],
      );
      for (const r of rows) {
        assert.ok(Math.abs(Number(r.created_at) - Date.now()) < 120_000, 'the event time is kept (ms)');
        assert.ok(Number(r.received_at) >= Number(r.created_at) - 1_000);
      }
      // A refused delivery (unknown session) is not stored, so Stripe's retry is heard once fixed.
      const refusedId = `evt_refused_${id}`;
      const refused = await deliver(
        event('checkout.session.completed', completedSession(id, 1500, { metadata: {} }, 'cs_unknown'), refusedId),
      );
      assert.equal(refused.status, 404);
      const stored = await gw.runtime.store.db
        .selectFrom('stripe_event')
        .select('id')
        .where('id', '=', refusedId)
        .executeTakeFirst();
      assert.equal(stored, undefined);
    });

    test('the signature is checked on the raw bytes: forged, tampered, missing or too old is a 400 and no change', async () => {
      const id = await tenant();
      const payload = event('checkout.session.completed', completedSession(id, 5000));
      // Whitespace a JSON re-serialization would drop: only the raw bytes verify.
      const spaced = payload.replace('{', '{\n  ');
      await unchanged(id, async () => {
        const forged = await deliver(payload, signed(payload, { secret: 'whsec_someone_else' }));
        assert.equal(forged.status, 400);
        assert.match(forged.body.error.message, /does not verify/);
        const tampered = await deliver(
          payload.replace('"amount_total":5000', '"amount_total":500000'),
          signed(payload),
        );
        assert.equal(tampered.status, 400);
        const missing = await deliver(payload, null);
        assert.equal(missing.status, 400);
        assert.match(missing.body.error.message, /Stripe-Signature/);
        const old = await deliver(payload, signed(payload, { timestamp: Math.floor(Date.now() / 1000) - 3600 }));
        assert.equal(old.status, 400);
        assert.match(old.body.error.message, /older than 300 seconds/);
        const text = await deliver(payload, signed(payload), 'text/plain');
        assert.equal(text.status, 415);
        const huge = '{"x":"' + 'a'.repeat(1_100_000) + '"}';
        const tooBig = await deliver(huge, signed(huge));
        assert.equal(tooBig.status, 413);
      });
      const ok = await deliver(spaced, signed(spaced));
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      assert.equal((await account(id)).balanceNano, 48 * USD);
    });

    test('unknown sessions, unpaid sessions and absurd amounts change nothing', async () => {
      const id = await tenant();
      await unchanged(id, async () => {
        const foreign = await deliver(
          event('checkout.session.completed', completedSession(id, 2500, { metadata: {} })),
        );
        assert.equal(foreign.status, 404);
        assert.match(foreign.body.error.message, /not a deposit made by this gateway/);
        const unpaid = await deliver(
          event('checkout.session.completed', completedSession(id, 2500, { payment_status: 'unpaid' })),
        );
        assert.equal(unpaid.status, 200);
        assert.equal(unpaid.body.outcome, 'ignored');
        const mismatch = await deliver(
          event(
            'checkout.session.completed',
            completedSession(id, 2500, { metadata: { modro_tenant: id, modro_amount_nano: String(2500 * USD) } }),
          ),
        );
        assert.equal(mismatch.status, 400);
        const huge = 10_000_000_000;
        const absurd = await deliver(event('checkout.session.completed', completedSession(id, huge)));
        assert.equal(absurd.status, 400);
        const euro = await deliver(
          event('checkout.session.completed', completedSession(id, 2500, { currency: 'eur' })),
        );
        assert.equal(euro.status, 400);
        const noTenant = await deliver(
          event(
            'checkout.session.completed',
            completedSession(id, 2500, { metadata: { modro_tenant: 'nobody', modro_amount_nano: String(25 * USD) } }),
          ),
        );
        assert.equal(noTenant.status, 404);
        const other = await deliver(event('invoice.paid', { id: 'in_1', object: 'invoice' }));
        assert.equal(other.body.outcome, 'ignored');
      });
    });

    test('charge.refunded takes back the credited share of what was refunded, once per amount', async () => {
      const id = await tenant();
      const session = completedSession(id, 2500);
      assert.equal((await deliver(event('checkout.session.completed', session))).body.outcome, 'deposit');
      const charge = (refundedCents: number, pi = session['payment_intent']) => ({
        id: `ch_${id}`,
        object: 'charge',
        amount: 2500,
        amount_refunded: refundedCents,
        currency: 'usd',
        payment_intent: pi,
        refunded: refundedCents === 2500,
      });
      const partial = event('charge.refunded', charge(1000));
      const first = await deliver(partial);
      assert.equal(first.status, 200, JSON.stringify(first.body));
      assert.equal(first.body.amountNano, 9_600_000_000, '$10 refunded of a $25 deposit: $10 less its 4% fee');
      assert.equal((await account(id)).balanceNano, 24 * USD - 9_600_000_000);
      await unchanged(id, async () => {
        assert.equal((await deliver(partial)).body.outcome, 'duplicate');
        assert.equal((await deliver(event('charge.refunded', charge(1000)))).body.outcome, 'duplicate');
        assert.equal((await deliver(event('charge.refunded', charge(1000, 'pi_unknown')))).status, 404);
        assert.equal((await deliver(event('charge.refunded', charge(999_999)))).status, 400);
      });
      const rest = await deliver(event('charge.refunded', charge(2500)));
      assert.equal(rest.body.outcome, 'refund');
      const acct = await account(id);
      assert.equal(acct.balanceNano, 0, 'a full refund leaves the balance as before the deposit');
      assert.deepEqual(
        acct.entries.filter((e) => e.kind === 'refund').map((e) => [e.amount_nano, e.admin]),
        [
          [-14_400_000_000, 'stripe'],
          [-9_600_000_000, 'stripe'],
        ],
      );
      assert.equal((await verify()).ok, true);
    });

    test('a refund larger than what is left after spending is refused, with no entry', async () => {
      const id = await tenant();
      const session = completedSession(id, 2500);
      assert.equal((await deliver(event('checkout.session.completed', session))).body.outcome, 'deposit');
      await admin.json('POST', `/admin/api/tenants/${id}/ledger`, { kind: 'debit', amountUsd: '20', reason: 'spent' });
      await unchanged(id, async () => {
        const refund = await deliver(
          event('charge.refunded', {
            id: `ch_${id}`,
            object: 'charge',
            amount: 2500,
            amount_refunded: 2500,
            currency: 'usd',
            payment_intent: session['payment_intent'],
          }),
        );
        assert.equal(refund.status, 400);
        assert.match(refund.body.error.message, /more than the \$4(\.0+)? available/);
      });
      assert.equal((await account(id)).balanceNano, 4 * USD);
    });

    test('two gateways on one database, each receiving the same session at once, record one deposit', {
      skip: kind === 'postgres' ? false : 'several gateways share a database on PostgreSQL only',
    }, async () => {
      const id = await tenant();
      const second = await startTenancyGateway(
        {
          demo: { enabled: false },
          billing: { flushIntervalMs: 20, stripe: stripeSettings() },
          storage: { kind: 'postgres', url: POSTGRES_TEST_URL, schema },
        },
        stripeEnv,
      );
      try {
        const deliveries = [];
        for (let i = 0; i < 6; i++) {
          const payload = event('checkout.session.completed', completedSession(id, 1500));
          const target = i % 2 === 0 ? gw.url : second.url;
          deliveries.push(
            fetch(`${target}/webhooks/stripe`, {
              method: 'POST',
              headers: { 'content-type': 'application/json', 'stripe-signature': signed(payload) },
              body: payload,
            }).then(async (r) => ((await r.json()) as Answer).outcome),
          );
        }
        const outcomes = (await Promise.all(deliveries)).sort();
        assert.deepEqual(outcomes, ['deposit', 'duplicate', 'duplicate', 'duplicate', 'duplicate', 'duplicate']);
        const deposits = await gw.runtime.store.db
          .selectFrom('ledger_entry')
          .select(['kind', 'amount_nano'])
          .where('tenant_id', '=', id)
          .execute();
        assert.deepEqual(deposits.map((e) => [e.kind, Number(e.amount_nano)]).sort(), [
          ['deposit', 15 * USD],
          ['deposit_fee', -600_000_000],
        ]);
        assert.equal((await verify()).ok, true);
      } finally {
        await second.close();
      }
    });

    test('the secret key and the webhook secret appear in no log line', () => {
      const logs = gw.logs.join('\n');
      assert.ok(!logs.includes(MOCK_STRIPE_KEY));
      assert.ok(!logs.includes(WEBHOOK_SECRET));
    });
  });
}

describe('Stripe deposits off (no billing.stripe)', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startTenancyGateway({ demo: { enabled: false } });
  });
  after(async () => {
    await gw?.close();
  });

  test('the webhook and the checkout answer 404 saying Stripe is off', async () => {
    const payload = event('checkout.session.completed', completedSession('t', 2500));
    const hook = await fetch(`${gw.url}/webhooks/stripe`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'stripe-signature': signed(payload) },
      body: payload,
    });
    assert.equal(hook.status, 404);
    assert.match(((await hook.json()) as Answer).error.message, /billing\.stripe is not set/);
    const admin = await adminClient(gw);
    await admin.json('POST', '/admin/api/tenants', { id: 'off1' });
    const checkout = await admin.request('POST', '/admin/api/tenants/off1/checkout', { amountUsd: '10' });
    assert.equal(checkout.status, 404);
  });
});
