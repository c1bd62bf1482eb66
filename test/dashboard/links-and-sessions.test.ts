import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { signLink } from '../../src/tenancy/dashboard-links.ts';
import { TEST_API_KEY, type TestGateway } from '../helpers/gateway.ts';
import { callInfo, chat, csrfOf, getPage, openLink, postForm, startTenancyGateway } from '../tenancy/helpers.ts';

/**
 * The signed dashboard link from a real /v1 response: exchanged for a session cookie and a redirect to a clean
 * URL; tampered, expired and revoked links get the same plain 403 page.
 */
describe('dashboard links and sessions', () => {
  let gw: TestGateway;

  before(async () => {
    gw = await startTenancyGateway({ tenancy: { dashboard: { linkTtlMs: 3_600_000 } } });
  });
  after(() => gw.close());

  async function freshLink(): Promise<string> {
    const call = await callInfo(await chat(gw, TEST_API_KEY));
    assert.equal(call.status, 200);
    assert.ok(call.link, 'every successful response carries X-Client-Dashboard-Url');
    return call.link;
  }

  test('every successful /v1 response carries the link, streams included; the hot path reuses it', async () => {
    const first = await freshLink();
    assert.ok(first.startsWith(`${gw.url}/client/open?link=default.`));
    assert.equal(await freshLink(), first, 'cached per tenant, not signed per request');
    const stream = await chat(gw, TEST_API_KEY, {
      model: 'fast',
      stream: true,
      messages: [{ role: 'user', content: 'hi' }],
    });
    assert.equal(stream.headers.get('x-client-dashboard-url'), first);
    await stream.text();
    const failed = await chat(gw, TEST_API_KEY, { model: 'fast', messages: [] });
    assert.equal(failed.status, 400);
    assert.equal(failed.headers.get('x-client-dashboard-url'), null, 'not on errors');
    await failed.text();
    const auth = { authorization: `Bearer ${TEST_API_KEY}` };
    const models = await fetch(`${gw.url}/v1/models`, { headers: auth });
    assert.equal(models.headers.get('x-client-dashboard-url'), first, 'on /v1/models too');
    await models.text();
    const messages = await fetch(`${gw.url}/v1/messages`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({ model: 'fast', max_tokens: 20, messages: [{ role: 'user', content: 'hi' }] }),
    });
    assert.equal(messages.status, 200);
    assert.equal(messages.headers.get('x-client-dashboard-url'), first, 'on /v1/messages too');
    await messages.text();
    const counted = await fetch(`${gw.url}/v1/messages/count_tokens`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'fast', messages: [{ role: 'user', content: 'hi' }] }),
    });
    assert.equal(counted.status, 200);
    assert.equal(counted.headers.get('x-client-dashboard-url'), first, 'on count_tokens too');
    await counted.text();
  });

  test('opening the link sets an HttpOnly, SameSite session cookie scoped to /client and redirects to /client', async () => {
    const { cookie, setCookie, location } = await openLink(await freshLink());
    assert.equal(location, '/client');
    assert.match(setCookie, /^modro_client=[A-Za-z0-9_-]{43}; /);
    assert.match(setCookie, /; Path=\/client;/);
    assert.match(setCookie, /; HttpOnly/);
    assert.match(setCookie, /; SameSite=Lax/);
    assert.doesNotMatch(setCookie, /Secure/, 'plain http: no Secure flag');
    const page = await getPage(gw, '/client', cookie);
    assert.equal(page.status, 200);
    assert.match(page.html, /<h1>Usage<\/h1>/);
    assert.equal(page.res.headers.get('cache-control'), 'no-store');
    assert.match(page.res.headers.get('content-security-policy') ?? '', /default-src 'none'/);
    assert.doesNotMatch(page.html, /<script/i, 'pages run no script');
  });

  test('tampered, truncated, expired and forged links get a plain 403 page and no cookie', async () => {
    const link = await freshLink();
    const token = new URL(link).searchParams.get('link')!;
    const [tenant, issued, expires, sig] = token.split('.') as [string, string, string, string];
    const key = gw.runtime.tenancy.secret.keys.dashboardLink;
    const now = Date.now();
    const bad = [
      `${tenant}.${issued}.${Number(expires) + 1}.${sig}`,
      `${tenant}.${issued}.${expires}.${sig.slice(0, -2)}AA`,
      `${tenant}.${issued}.${expires}`,
      '',
      signLink(key, { tenantId: 'default', issuedAt: now - 7_200_000, expiresAt: now - 3_600_000 }),
      signLink(Buffer.alloc(32, 7), { tenantId: 'default', issuedAt: now, expiresAt: now + 60_000 }),
      signLink(key, { tenantId: 'no-such-tenant', issuedAt: now, expiresAt: now + 60_000 }),
    ];
    for (const candidate of bad) {
      const res = await fetch(`${gw.url}/client/open?link=${encodeURIComponent(candidate)}`, { redirect: 'manual' });
      const html = await res.text();
      assert.equal(res.status, 403, candidate);
      assert.match(html, /Access denied/);
      assert.deepEqual(res.headers.getSetCookie(), []);
    }
  });

  test('Secure cookies when the public URL is https', async () => {
    const secure = await startTenancyGateway({ server: { publicUrl: 'https://gw.example.com' } });
    try {
      const call = await callInfo(await chat(secure, TEST_API_KEY));
      assert.ok(call.link?.startsWith('https://gw.example.com/client/open?link='));
      const local = call.link!.replace('https://gw.example.com', secure.url);
      const { setCookie } = await openLink(local);
      assert.match(setCookie, /; Secure/);
    } finally {
      await secure.close();
    }
  });

  test('revoking all links: old links and open sessions get 403; the next response’s link works', async () => {
    const oldLink = await freshLink();
    const { cookie } = await openLink(oldLink);
    const other = await openLink(oldLink);
    const settings = await getPage(gw, '/client/settings', cookie);
    const res = await postForm(gw, '/client/revoke-links', cookie, { _csrf: csrfOf(settings.html) });
    assert.equal(res.status, 200);
    assert.match(res.headers.getSetCookie().join(), /modro_client=; .*Max-Age=0/);
    await res.text();
    assert.equal((await fetch(oldLink, { redirect: 'manual' })).status, 403, 'the old link is revoked');
    assert.equal((await getPage(gw, '/client', other.cookie)).status, 403, 'sessions opened from old links end');
    assert.equal((await getPage(gw, '/client', cookie)).status, 403);
    const newLink = await freshLink();
    assert.notEqual(newLink, oldLink, 'the cached link is re-signed after revocation');
    const reopened = await openLink(newLink);
    assert.equal((await getPage(gw, '/client', reopened.cookie)).status, 200);
  });

  test('signing out ends the session', async () => {
    const { cookie } = await openLink(await freshLink());
    const page = await getPage(gw, '/client', cookie);
    const res = await postForm(gw, '/client/logout', cookie, { _csrf: csrfOf(page.html) });
    assert.equal(res.status, 200);
    await res.text();
    assert.equal((await getPage(gw, '/client', cookie)).status, 403);
  });
});
