import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { StoreConfig } from '../../src/store/db.ts';
import { forEachDatabase } from '../helpers/databases.ts';
import { TEST_API_KEY } from '../helpers/gateway.ts';
import { adminClient, callInfo, chat, createTenantWithKey, openLink, startTenancyGateway, waitFor } from './helpers.ts';

/**
 * Two gateway nodes on one PostgreSQL database with one shared secret: a change made through one node (a key,
 * a preset, a revocation) reaches the other through the settings-version poll, and a dashboard link issued by
 * one opens on the other. (SQLite is one process per file: its cross-process case is test/tenancy/cli.test.ts.)
 */
forEachDatabase('two gateway nodes', (suite) => {
  it('share keys, policies, revocations and dashboard links', async (t) => {
    if (suite.kind !== 'postgres') return t.skip('several nodes share a database only on PostgreSQL');
    const storage = suite.newConfig() as Extract<StoreConfig, { kind: 'postgres' }>;
    const shared = {
      storage: { kind: 'postgres' as const, url: storage.url, schema: storage.schema! },
      tenancy: { secret: 'a-shared-secret-of-at-least-32-characters', cache: { pollMs: 50 } },
    };
    const a = await startTenancyGateway(shared);
    const b = await startTenancyGateway(shared);
    try {
      const admin = await adminClient(a);
      const { id, key } = await createTenantWithKey(admin, { id: 'acme' });
      await waitFor(async () => (await callInfo(await chat(b, key))).status === 200, 'node B accepts the key');
      assert.equal((await callInfo(await chat(b, key))).model, 'demo/demo-fast');

      await admin.json('PATCH', '/admin/api/tenants/acme', { preset: 'cheapest' });
      await waitFor(
        async () => (await callInfo(await chat(b, key))).model === 'demo/demo-utility',
        'node B routes by cheapest',
      );

      const link = (await callInfo(await chat(b, key))).link!;
      const onA = link.replace(b.url, a.url);
      const { cookie } = await openLink(onA);
      assert.ok(cookie.startsWith('modro_client='), 'a link from node B opens on node A');

      await admin.json('POST', `/admin/api/keys/${id}/revoke`);
      await waitFor(async () => (await callInfo(await chat(b, key))).status === 401, 'node B refuses the revoked key');
      assert.equal((await callInfo(await chat(b, TEST_API_KEY))).status, 200);
    } finally {
      await a.close();
      await b.close();
    }
  });
});
