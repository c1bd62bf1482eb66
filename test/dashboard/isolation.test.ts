import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { signLink } from '../../src/tenancy/dashboard-links.ts';
import type { TestGateway } from '../helpers/gateway.ts';
import {
  type AdminClient,
  adminClient,
  CHAT,
  callInfo,
  chat,
  createTenantWithKey,
  csrfOf,
  getPage,
  openLink,
  postForm,
  startTenancyGateway,
} from '../tenancy/helpers.ts';

/**
 * Attacks on isolation: a client session must never reach another tenant’s data or any admin data. Two
 * tenants with distinctive traffic; every attempt uses acme’s session against globex or admin.
 */
describe('tenant and admin isolation', () => {
  let gw: TestGateway;
  let admin: AdminClient;
  let acmeKey: string;
  let globexKey: string;
  let acmeCookie: string;
  let acmeLink: string;

  before(async () => {
    gw = await startTenancyGateway();
    admin = await adminClient(gw);
    acmeKey = (await createTenantWithKey(admin, { id: 'acme', name: 'Acme Inc.' })).key;
    globexKey = (await createTenantWithKey(admin, { id: 'globex', name: 'Globex Corp' })).key;
    // Distinctive traffic: globex asks for deep with a marker model name; acme only for utility.
    assert.equal((await callInfo(await chat(gw, globexKey, { ...CHAT, model: 'demo/demo-deep' }))).status, 200);
    const acme = await callInfo(await chat(gw, acmeKey, { ...CHAT, model: 'utility' }));
    acmeLink = acme.link!;
    await gw.runtime.usage.flush();
    acmeCookie = (await openLink(acmeLink)).cookie;
  });
  after(() => gw.close());

  test('a client page shows its own tenant only, whatever the URL says', async () => {
    for (const path of [
      '/client',
      '/client?tenant=globex',
      '/client?tenantId=globex&range=30d',
      '/client/settings?tenant=globex',
    ]) {
      const page = await getPage(gw, path, acmeCookie);
      assert.equal(page.status, 200, path);
      assert.match(page.html, /Acme Inc\./, path);
      if (path.startsWith('/client?') || path === '/client')
        assert.match(page.html, /utility → demo\/demo-utility/, 'its own request');
      assert.doesNotMatch(page.html, /Globex|globex/, path);
      assert.doesNotMatch(page.html, /demo-deep →|demo\/demo-deep<\/div>/, `${path}: globex’s requests`);
    }
  });

  test('a settings post names no tenant: a forged tenant field changes only the session’s tenant', async () => {
    const page = await getPage(gw, '/client/settings', acmeCookie);
    const res = await postForm(gw, '/client/settings', acmeCookie, {
      _csrf: csrfOf(page.html),
      tenant: 'globex',
      tenantId: 'globex',
      preset: 'quality',
    });
    assert.equal(res.status, 303);
    assert.equal((await gw.runtime.tenancy.repo.getTenant('acme'))?.preset, 'quality');
    assert.equal((await gw.runtime.tenancy.repo.getTenant('globex'))?.preset, null);
  });

  test('forged links: another tenant’s id with acme’s signature, or a link signed with another secret', async () => {
    const token = new URL(acmeLink).searchParams.get('link')!;
    const forged = token.replace(/^acme\./, 'globex.');
    assert.equal((await fetch(`${gw.url}/client/open?link=${forged}`, { redirect: 'manual' })).status, 403);
    const now = Date.now();
    const foreign = signLink(Buffer.alloc(32, 1), { tenantId: 'globex', issuedAt: now, expiresAt: now + 60_000 });
    assert.equal((await fetch(`${gw.url}/client/open?link=${foreign}`, { redirect: 'manual' })).status, 403);
  });

  test('admin pages and the admin API refuse a client session, also under the admin cookie’s name', async () => {
    const value = acmeCookie.split('=')[1]!;
    for (const cookie of [acmeCookie, `modro_admin=${value}`]) {
      const page = await fetch(`${gw.url}/admin`, { headers: { cookie }, redirect: 'manual' });
      assert.equal(page.status, 303, 'to the login page');
      assert.equal(page.headers.get('location'), '/admin/login');
      for (const path of [
        '/admin/api/tenants',
        '/admin/api/keys',
        '/admin/api/analytics',
        '/admin/api/tenants/globex',
      ]) {
        const res = await fetch(`${gw.url}${path}`, { headers: { cookie } });
        assert.equal(res.status, 401, `${path} with ${cookie.split('=')[0]}`);
        assert.doesNotMatch(await res.text(), /globex|mdro_/);
      }
      const create = await fetch(`${gw.url}/admin/api/keys`, {
        method: 'POST',
        headers: { cookie, 'content-type': 'application/json' },
        body: JSON.stringify({ tenantId: 'globex' }),
      });
      assert.equal(create.status, 401);
      const form = await postForm(gw, '/admin/tenants/globex/link', cookie, { _csrf: 'x' });
      assert.equal(form.status, 403);
      assert.doesNotMatch(await form.text(), /client\/open/);
    }
  });

  test('an admin session is not a client session either', async () => {
    const value = admin.cookie.split('=')[1]!;
    const page = await getPage(gw, '/client', `modro_client=${value}`);
    assert.equal(page.status, 403);
  });

  test('a client session cookie is bound to its tenant even if the tenant’s link is revoked elsewhere', async () => {
    const fresh = await openLink(acmeLink);
    await admin.json('POST', '/admin/api/tenants/globex/revoke-links');
    assert.equal((await getPage(gw, '/client', fresh.cookie)).status, 200, 'globex’s revocation does not touch acme');
    await admin.json('POST', '/admin/api/tenants/acme/revoke-links');
    assert.equal((await getPage(gw, '/client', fresh.cookie)).status, 403);
  });

  test('garbage and missing cookies get the plain 403', async () => {
    for (const cookie of ['', 'modro_client=', 'modro_client=%zz', `modro_client=${'a'.repeat(5000)}`]) {
      assert.equal((await getPage(gw, '/client', cookie)).status, 403, cookie.slice(0, 30));
    }
  });
});
