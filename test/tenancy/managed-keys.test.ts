import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { TestGateway } from '../helpers/gateway.ts';
import { TEST_API_KEY } from '../helpers/gateway.ts';
import {
  type AdminClient,
  adminClient,
  CHAT,
  callInfo,
  chat,
  createKey,
  createTenantWithKey,
  startTenancyGateway,
} from './helpers.ts';

/**
 * Managed keys end to end through the admin JSON API and /v1: issued once, stored as a hash, routed with the
 * tenant's policy, refused once revoked or expired, and the tenant's policy applied on the very next request.
 */
describe('managed keys and tenant policy', () => {
  let gw: TestGateway;
  let admin: AdminClient;

  before(async () => {
    gw = await startTenancyGateway();
    admin = await adminClient(gw);
    await admin.json('POST', '/admin/api/tenants', { id: 'acme', name: 'Acme Inc.' });
  });
  after(() => gw.close());

  test('a key is shown once at creation; lists show its prefix, never the key or its hash', async () => {
    const created = await admin.json<{ id: string; key: string; prefix: string; tenantId: string }>(
      'POST',
      '/admin/api/keys',
      { tenantId: 'acme', name: 'prod' },
    );
    assert.match(created.key, /^mdro_[A-Za-z0-9_-]{43}$/);
    assert.equal(created.prefix, created.key.slice(0, 13));
    const listed = await admin.json<{ data: unknown[] }>('GET', '/admin/api/keys?tenant=acme');
    const text = JSON.stringify(listed);
    assert.ok(text.includes(created.id) && text.includes(created.prefix));
    assert.ok(!text.includes(created.key), 'the key itself is never listed');
    assert.ok(!/"hash"/.test(text), 'nor its hash');
    const detail = JSON.stringify(await admin.json('GET', '/admin/api/tenants/acme'));
    assert.ok(!detail.includes(created.key));
  });

  test('a managed key routes as its tenant and gets the tenant’s dashboard link', async () => {
    const { key } = await createKey(admin, 'acme');
    const call = await callInfo(await chat(gw, key));
    assert.equal(call.status, 200);
    assert.match(call.link ?? '', /\/client\/open\?link=acme\.\d+\.\d+\.[A-Za-z0-9_-]{43}$/);
    await gw.runtime.usage.flush();
    const rows = await gw.runtime.store.db
      .selectFrom('usage_record')
      .innerJoin('usage_dim', 'usage_dim.id', 'usage_record.tenant_id')
      .select('usage_dim.value as tenant')
      .execute();
    assert.ok(rows.some((r) => r.tenant === 'acme'));
  });

  test('the tenant’s preset applies to its next request (the cache is invalidated on write)', async () => {
    const { key } = await createKey(admin, 'acme');
    assert.equal((await callInfo(await chat(gw, key))).model, 'demo/demo-fast');
    await admin.json('PATCH', '/admin/api/tenants/acme', { preset: 'cheapest' });
    assert.equal((await callInfo(await chat(gw, key))).model, 'demo/demo-utility', 'cheapest fast → the cheaper model');
    await admin.json('PATCH', '/admin/api/tenants/acme', { preset: 'default', tierModels: { fast: 'demo/demo-deep' } });
    assert.equal((await callInfo(await chat(gw, key))).model, 'demo/demo-deep', 'a pinned tier model wins');
    await admin.json('PATCH', '/admin/api/tenants/acme', { tierModels: { fast: '' } });
    assert.equal((await callInfo(await chat(gw, key))).model, 'demo/demo-fast');
    // Other tenants are untouched by acme's settings.
    assert.equal((await callInfo(await chat(gw, TEST_API_KEY))).model, 'demo/demo-fast');
  });

  test('allowed models restrict what the tenant may name', async () => {
    const { key } = await createKey(admin, 'acme');
    await admin.json('PATCH', '/admin/api/tenants/acme', { allowedModels: ['demo/demo-utility'] });
    const denied = await callInfo(await chat(gw, key, { ...CHAT, model: 'demo/demo-deep' }));
    assert.equal(denied.status, 404);
    assert.equal((await callInfo(await chat(gw, key, { ...CHAT, model: 'demo/demo-utility' }))).status, 200);
    await admin.json('PATCH', '/admin/api/tenants/acme', { allowedModels: null });
    assert.equal((await callInfo(await chat(gw, key, { ...CHAT, model: 'demo/demo-deep' }))).status, 200);
  });

  test('invalid settings are refused with the field named', async () => {
    for (const [patch, param] of [
      [{ preset: 'fastest' }, 'preset'],
      [{ tierModels: { fast: 'nope/nope' } }, 'tierModels.fast'],
      [{ tierModels: { turbo: 'demo/demo-fast' } }, 'tierModels'],
      [{ allowedModels: ['nope'] }, 'allowedModels'],
    ] as const) {
      const res = await admin.request('PATCH', '/admin/api/tenants/acme', patch);
      const error = ((await res.json()) as { error: { code: string; param: string } }).error;
      assert.equal(res.status, 400, JSON.stringify(patch));
      assert.equal(error.code, 'invalid_request');
      assert.equal(error.param, param);
    }
    const bad = await admin.request('POST', '/admin/api/tenants', { id: 'Bad Id!' });
    assert.equal(bad.status, 400);
    const reserved = await admin.request('POST', '/admin/api/tenants', { id: 'byok_mine' });
    assert.equal(reserved.status, 400);
  });

  test('revocation: the next request with the key is refused', async () => {
    const { id, key } = await createKey(admin, 'acme');
    assert.equal((await callInfo(await chat(gw, key))).status, 200);
    await admin.json('POST', `/admin/api/keys/${id}/revoke`);
    const refused = await callInfo(await chat(gw, key));
    assert.equal(refused.status, 401);
    assert.equal(JSON.parse(refused.body).error.code, 'authentication_failed');
    assert.equal(refused.link, null, 'no dashboard link on a failure');
  });

  test('expiry: a key past its expiry is refused; a past expiry cannot be set', async () => {
    const { id, key } = await createKey(admin, 'acme', { expiresInDays: 30 });
    assert.equal((await callInfo(await chat(gw, key))).status, 200);
    // Time passing is simulated by moving the expiry into the past (what 30 days would do).
    await gw.runtime.tenancy.repo.setKeyExpiry(id, Date.now() - 1);
    await gw.runtime.tenancy.directory.afterWrite();
    const expired = await callInfo(await chat(gw, key));
    assert.equal(expired.status, 401);
    assert.match(JSON.parse(expired.body).error.message, /expired/);
    const past = await admin.request('POST', '/admin/api/keys', { tenantId: 'acme', expiresAt: Date.now() - 1000 });
    assert.equal(past.status, 400);
  });

  test('unknown or malformed managed keys, and managed keys switched off, get authentication_failed', async () => {
    assert.equal((await chat(gw, 'mdro_thisIsNotARealKeyButLooksLikeOne0123456789abc')).status, 401);
    const off = await startTenancyGateway({ tenancy: { managedKeys: { enabled: false } } });
    try {
      const offAdmin = await adminClient(off);
      const { key } = await createTenantWithKey(offAdmin, { id: 'acme' });
      assert.equal((await chat(off, key)).status, 401);
      assert.equal((await chat(off, TEST_API_KEY)).status, 200, 'configured gateway keys keep working');
    } finally {
      await off.close();
    }
  });

  test('Anthropic-style x-api-key carries a managed key too; presets are listed for admins', async () => {
    const { key } = await createKey(admin, 'acme');
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'x-api-key': key, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'fast', messages: [{ role: 'user', content: 'hi' }] }),
    });
    assert.equal((await callInfo(res)).status, 200);
    const presets = await admin.json<{ default: string; presets: Record<string, Record<string, string[]>> }>(
      'GET',
      '/admin/api/presets',
    );
    assert.equal(presets.default, 'balanced');
    assert.equal(presets.presets['cheapest']?.['fast']?.[0], 'demo/demo-utility');
    assert.equal(presets.presets['balanced']?.['fast']?.[0], 'demo/demo-fast');
  });

  test('last-used times are written in batches, not per request (and at shutdown)', async () => {
    const { id, key } = await createKey(admin, 'acme');
    assert.equal((await callInfo(await chat(gw, key))).status, 200);
    assert.equal((await gw.runtime.tenancy.repo.getKey(id))?.lastUsedAt, null, 'nothing written on the request path');
    await gw.runtime.tenancy.close();
    assert.ok((await gw.runtime.tenancy.repo.getKey(id))?.lastUsedAt, 'written by the batch at shutdown');
  });
});
