import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { TestGateway } from '../helpers/gateway.ts';
import {
  type AdminClient,
  callInfo,
  chat,
  clientSession,
  csrfOf,
  getPage,
  postForm,
  startDashboardGateway,
} from '../tenancy/helpers.ts';

/** /client/settings: validated, CSRF-protected, and applied to the tenant’s very next request. */
describe('client settings', () => {
  let gw: TestGateway;
  let admin: AdminClient;
  let key: string;
  let cookie: string;
  let csrf: string;

  before(async () => {
    ({ gw, admin, key, cookie } = await startDashboardGateway());
    csrf = csrfOf((await getPage(gw, '/client/settings', cookie)).html);
  });
  after(() => gw.close());

  const save = (fields: Record<string, string>, headers: Record<string, string> = {}) =>
    postForm(gw, '/client/settings', cookie, fields, headers);

  test('the page shows the presets, the models the tenant may use and what each tier routes to now', async () => {
    const { html } = await getPage(gw, '/client/settings', cookie);
    for (const preset of ['cheapest', 'balanced', 'quality', 'default'])
      assert.match(html, new RegExp(`value="${preset}"`));
    assert.match(html, /<option value="demo\/demo-utility">/);
    assert.match(html, /data-tier="fast">Now: <strong>demo\/demo-fast<\/strong>/);
  });

  test('choosing cheapest routes the next request to the cheaper model', async () => {
    assert.equal((await callInfo(await chat(gw, key))).model, 'demo/demo-fast');
    const res = await save({ _csrf: csrf, preset: 'cheapest', utility: '', fast: '', deep: '' });
    assert.equal(res.status, 303);
    assert.equal(res.headers.get('location'), '/client/settings?saved=1');
    assert.equal((await callInfo(await chat(gw, key))).model, 'demo/demo-utility');
    const { html } = await getPage(gw, '/client/settings?saved=1', cookie);
    assert.match(html, /Saved\. Your next request uses these settings\./);
    assert.match(html, /value="cheapest" checked/);
  });

  test('a tier pinned to a model wins over the preset; "Preset’s choice" undoes it', async () => {
    assert.equal((await save({ _csrf: csrf, preset: 'cheapest', fast: 'demo/demo-deep' })).status, 303);
    assert.equal((await callInfo(await chat(gw, key))).model, 'demo/demo-deep');
    assert.equal((await save({ _csrf: csrf, preset: 'default', fast: '' })).status, 303);
    assert.equal((await callInfo(await chat(gw, key))).model, 'demo/demo-fast');
  });

  test('invalid values are refused with a message and change nothing', async () => {
    const invalid: Array<Record<string, string>> = [
      { preset: 'fastest' },
      { preset: 'balanced', fast: 'no/such-model' },
      { preset: 'balanced', deep: '<script>alert(1)</script>' },
    ];
    for (const fields of invalid) {
      const res = await save({ _csrf: csrf, ...fields });
      const html = await res.text();
      assert.equal(res.status, 400, JSON.stringify(fields));
      assert.match(html, /class="notice bad"/);
      assert.doesNotMatch(html, /<script>alert/, 'input is escaped when echoed');
    }
    assert.equal((await gw.runtime.tenancy.repo.getTenant('acme'))?.preset, null);
  });

  test('CSRF: a missing or wrong token, or another origin, is refused with 403', async () => {
    const cases: Array<[Record<string, string>, Record<string, string>]> = [
      [{ preset: 'quality' }, {}],
      [{ _csrf: 'wrong', preset: 'quality' }, {}],
      // One character changed (to one it is not: a token ending in `x` made this case flaky, 1 run in 64).
      [{ _csrf: `${csrf.slice(0, -1)}${csrf.endsWith('x') ? 'y' : 'x'}`, preset: 'quality' }, {}],
      [{ _csrf: csrf, preset: 'quality' }, { origin: 'https://evil.example' }],
      [{ _csrf: csrf, preset: 'quality' }, { origin: 'null' }],
    ];
    for (const [fields, headers] of cases) {
      const res = await save(fields, headers);
      assert.equal(res.status, 403, JSON.stringify({ fields, headers }));
      await res.text();
    }
    assert.equal((await gw.runtime.tenancy.repo.getTenant('acme'))?.preset, null, 'nothing changed');
    // Another session's token does not work either.
    const other = await clientSession(gw, key);
    const otherCsrf = csrfOf((await getPage(gw, '/client/settings', other)).html);
    assert.notEqual(otherCsrf, csrf);
    assert.equal((await save({ _csrf: otherCsrf, preset: 'quality' })).status, 403);
    for (const path of ['/client/revoke-links', '/client/logout']) {
      assert.equal((await postForm(gw, path, cookie, {})).status, 403, path);
    }
  });

  test('admin API mutations need the X-CSRF-Token header', async () => {
    const without = await admin.request(
      'PATCH',
      '/admin/api/tenants/acme',
      { preset: 'quality' },
      { 'x-csrf-token': '' },
    );
    assert.equal(without.status, 403);
    const wrong = await admin.request('POST', '/admin/api/keys', { tenantId: 'acme' }, { 'x-csrf-token': 'nope' });
    assert.equal(wrong.status, 403);
    const crossSite = await admin.request(
      'POST',
      '/admin/api/keys',
      { tenantId: 'acme' },
      { origin: 'https://evil.example' },
    );
    assert.equal(crossSite.status, 403);
    const adminForm = await postForm(gw, '/admin/keys', admin.cookie, { tenantId: 'acme' });
    assert.equal(adminForm.status, 403, 'admin forms need the _csrf field');
  });
});
