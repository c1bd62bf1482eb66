import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  clientSession,
  createTenantWithKey,
  csrfOf,
  type DashboardGateway,
  getPage,
  postForm,
  startDashboardGateway,
  waitFor,
} from '../tenancy/helpers.ts';
import { type Receiver, startReceiver } from './receiver.ts';

/**
 * The client dashboard's Webhooks page: the tenant's secret (the same the API shows), its deliveries with every
 * attempt, redelivery and rotation through CSRF-checked forms; another tenant's page shows none of it.
 */
describe('client dashboard: webhooks', () => {
  let d: DashboardGateway;
  let receiver: Receiver;

  before(async () => {
    receiver = await startReceiver({ behaviour: 200 });
    d = await startDashboardGateway({ webhooks: { allowPrivateNetworks: true, pollMs: 20 } });
  });
  after(async () => {
    await d.gw.close();
    await receiver.stop();
  });

  it('shows the secret and deliveries with attempts; redelivers and rotates through forms', async () => {
    const { gw, cookie, key } = d;
    await gw.runtime.webhooks.outbox.enqueue(gw.runtime.store.db, {
      tenantId: 'acme',
      url: receiver.url,
      messageId: 'msg_dash_1',
      type: 'execution.completed',
      data: { id: 'exec_dash' },
    });
    await waitFor(() => receiver.received.length === 1, 'first delivery');
    await waitFor(async () => (await getPage(gw, '/client/webhooks', cookie)).html.includes('badge good">delivered'));
    const page = await getPage(gw, '/client/webhooks', cookie);
    assert.equal(page.status, 200);
    assert.equal(page.res.headers.get('cache-control'), 'no-store');
    const apiSecret = (await (
      await fetch(`${gw.url}/v1/webhooks/secret`, { headers: { authorization: `Bearer ${key}` } })
    ).json()) as { secret: string };
    assert.ok(page.html.includes(`id="webhook-secret">${apiSecret.secret}<`), 'the page shows the API secret');
    assert.ok(page.html.includes('msg_dash_1'));
    assert.ok(page.html.includes('HTTP 200'));
    assert.ok(page.html.includes('href="/client/webhooks"'));

    const id = /data-delivery="(whd_[0-9a-f]+)"/.exec(page.html)![1]!;
    const csrf = csrfOf(page.html);
    // Without the CSRF token: refused, nothing sent.
    assert.equal((await postForm(gw, '/client/webhooks/redeliver', cookie, { id })).status, 403);
    const redeliver = await postForm(gw, '/client/webhooks/redeliver', cookie, { _csrf: csrf, id });
    assert.equal(redeliver.status, 303);
    await waitFor(() => receiver.received.length === 2, 'redelivery');
    assert.equal(receiver.received[1]!.headers['webhook-id'], 'msg_dash_1');
    await waitFor(async () => (await getPage(gw, '/client/webhooks', cookie)).html.includes('· manual'));

    const rotate = await postForm(gw, '/client/webhooks/rotate', cookie, { _csrf: csrf });
    assert.equal(rotate.status, 303);
    const after = await getPage(gw, '/client/webhooks?done=rotated', cookie);
    assert.ok(!after.html.includes(apiSecret.secret), 'a new secret is shown');
    assert.ok(after.html.includes('the previous secret also signs until'));

    // Another tenant: its own secret, no deliveries, and acme's delivery id cannot be redelivered from it.
    const other = await createTenantWithKey(d.admin, { id: 'globex' });
    const otherCookie = await clientSession(gw, other.key);
    const otherPage = await getPage(gw, '/client/webhooks', otherCookie);
    assert.ok(!otherPage.html.includes('msg_dash_1'));
    assert.ok(otherPage.html.includes('No webhooks yet.'));
    const res = await postForm(gw, '/client/webhooks/redeliver', otherCookie, { _csrf: csrfOf(otherPage.html), id });
    assert.equal(res.status, 404);
    assert.equal(receiver.received.length, 2);
  });
});
