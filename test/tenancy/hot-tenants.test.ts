import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sha256Hex } from '../../src/tenancy/auth.ts';
import { TenantDirectory } from '../../src/tenancy/directory.ts';
import { TenancyRepository } from '../../src/tenancy/repository.ts';
import type { Tenant } from '../../src/tenancy/tenant.ts';
import { forEachDatabase } from '../helpers/databases.ts';
import { seededKey, seededTenantOf, seedManagedKeys } from '../helpers/seed-keys.ts';
import { adminClient, chat, startTenancyGateway } from './helpers.ts';

/**
 * Tenants follow active keys (decision 0039): 40 tenants in the database, a cache of 5. A tenant is read with
 * the first key of it that is used, kept within the bound (least recently used evicted), re-read by a reload
 * only while cached, and an unknown tenant costs one query per TTL. Start reads only the pinned tenant.
 * Across replicas: test/replicas/three-replicas.test.ts (a suspension within 1 s), test/tenancy/two-nodes.test.ts.
 */
class CountingRepository extends TenancyRepository {
  tenantFinds = 0;
  loadedTenants: string[][] = [];

  override async getTenant(id: string): Promise<Tenant | undefined> {
    this.tenantFinds++;
    return super.getTenant(id);
  }

  override async loadTenantsAndKeys(tenantIds: readonly string[], keyIds: readonly string[]) {
    this.loadedTenants.push([...tenantIds]);
    return super.loadTenantsAndKeys(tenantIds, keyIds);
  }
}

const TENANTS = 40;
const CACHE = 5;
const KEY_CACHE = 10;
const TTL = 5_000;

forEachDatabase('hot tenants', (suite) => {
  it('loaded on first use with their key, bounded, invalidated by a reload, unknown ones remembered briefly', async () => {
    const { store } = await suite.fresh();
    // Key i belongs to tenant i % 40: keys 0..39 are the first key of each tenant, 40..79 the second.
    await seedManagedKeys(store.db, { keys: 2 * TENANTS, tenants: TENANTS });
    let now = 1_000_000;
    const repo = new CountingRepository(store.db, () => now);
    await repo.ensureTenant('default', 'Default');
    const errors: unknown[] = [];
    const directory = new TenantDirectory({
      repo,
      feed: { subscribe() {}, async publish() {}, close() {} },
      policyOf: (t) => (t.preset ? { preset: t.preset } : {}),
      keyCache: { keys: KEY_CACHE, tenants: CACHE, unknownKeys: 10, unknownTtlMs: TTL },
      pinnedTenants: ['default'],
      now: () => now,
      onError: (e) => errors.push(e),
    });
    await directory.start();
    try {
      assert.deepEqual(repo.loadedTenants, [['default']], 'start reads the pinned tenant only');
      assert.ok(directory.cachedTenant('default'), 'the pinned tenant is in memory');
      assert.equal(directory.cachedTenant(seededTenantOf(0, TENANTS)), undefined);

      // First use: a key's lookup reads its tenant with it, in the same query (decision 0044: no separate tenant
      // query); the tenant's second key finds it in memory.
      const first = await directory.key(sha256Hex(seededKey(0)));
      assert.equal(first?.tenant?.tenant.id, seededTenantOf(0, TENANTS));
      assert.equal(directory.keyCacheStats.tenantLookups, 1);
      assert.equal(repo.tenantFinds, 0, 'no query of its own');
      const second = await directory.key(sha256Hex(seededKey(TENANTS)));
      assert.equal(second?.tenant, first?.tenant, 'the entry in memory, shared');
      assert.equal(directory.keyCacheStats.tenantLookups, 1, 'the second key of a cached tenant reads no tenant');

      // Every tenant through a cache of 5: one query each, never more than 5 (+ the pinned one) in memory.
      let largest = 0;
      for (let i = 1; i < TENANTS; i++) {
        const entry = await directory.key(sha256Hex(seededKey(i)));
        assert.equal(entry?.tenant?.tenant.id, seededTenantOf(i, TENANTS));
        largest = Math.max(largest, directory.keyCacheStats.tenants);
      }
      assert.equal(directory.keyCacheStats.tenantLookups, TENANTS);
      assert.equal(repo.tenantFinds, 0);
      assert.equal(largest, CACHE + 1);
      assert.equal(directory.keyCacheStats.tenantEvictions, TENANTS - CACHE);
      assert.equal(directory.cachedTenant(seededTenantOf(0, TENANTS)), undefined, 'tenant 0 was evicted');
      assert.ok(directory.cachedTenant('default'), 'the pinned tenant is never evicted');
      // Keys 30-39 are hot, tenants 35-39: tenant 30 was evicted but its key still carries it (no lookup).
      const evicted = seededTenantOf(30, TENANTS);
      assert.equal(directory.cachedTenant(evicted), undefined);
      const hot = directory.key(sha256Hex(seededKey(30)));
      assert.ok(!(hot instanceof Promise) && hot?.tenant?.tenant.id === evicted);

      // A change to a cached tenant and to an evicted one whose key is hot: a reload applies both, re-reading
      // only the tenants in memory and those of the keys in memory, never the whole table.
      const last = seededTenantOf(TENANTS - 1, TENANTS);
      await repo.updateTenant(last, { preset: 'cheapest' });
      await repo.setSuspended(evicted, { reason: 'test' });
      await directory.afterWrite();
      assert.equal(directory.cachedTenant(last)?.policy.preset, 'cheapest');
      const suspended = directory.key(sha256Hex(seededKey(30)));
      assert.ok(!(suspended instanceof Promise) && suspended?.tenant?.tenant.suspendedAt === now);
      const reread = repo.loadedTenants.at(-1)!;
      assert.ok(reread.length <= 1 + CACHE + KEY_CACHE, `${reread.length} tenants re-read`);
      assert.ok(reread.includes('default') && reread.includes(last) && reread.includes(evicted));
      assert.ok(!reread.includes(seededTenantOf(0, TENANTS)), 'a tenant no longer in memory is not re-read');

      // An unknown tenant (a bring-your-own-key caller before its first success): one query per TTL.
      const before = repo.tenantFinds;
      for (let n = 0; n < 20; n++) assert.equal(await directory.tenant('byok_unknown'), undefined);
      assert.equal(repo.tenantFinds, before + 1);
      now += TTL;
      assert.equal(await directory.tenant('byok_unknown'), undefined);
      assert.equal(repo.tenantFinds, before + 2);
      // Created, then the write's reload forgets the unknown ones: found at once.
      await repo.createTenant({ id: 'byok_unknown' });
      await directory.afterWrite();
      assert.equal((await directory.tenant('byok_unknown'))?.tenant.id, 'byok_unknown');
      // Unknown tenants stay bounded (unknownKeys applies to them too).
      for (let n = 0; n < 30; n++) await directory.tenant(`nobody-${n}`);
      assert.equal(directory.keyCacheStats.unknownTenants, 10);
      // Concurrent first lookups of one tenant share a query.
      const shared = repo.tenantFinds;
      await Promise.all(Array.from({ length: 10 }, () => directory.tenant(seededTenantOf(3, TENANTS))));
      assert.ok(repo.tenantFinds - shared <= 1);
      assert.deepEqual(errors, []);
    } finally {
      directory.close();
    }
  });
});

describe('hot tenants through the gateway (tenancy.cache.tenants = 3)', () => {
  it('keys of 10 tenants answer, 3 tenants in memory, a tenant evicted then suspended is refused', async () => {
    const gw = await startTenancyGateway({ tenancy: { cache: { tenants: 3 } } });
    try {
      await seedManagedKeys(gw.runtime.store.db, { keys: 20, tenants: 10 });
      const directory = gw.runtime.tenancy.directory;
      for (let i = 0; i < 20; i++) {
        const res = await chat(gw, seededKey(i));
        assert.equal(res.status, 200, `key ${i}: ${await res.text()}`);
        await res.arrayBuffer().catch(() => {});
        assert.ok(directory.keyCacheStats.tenants <= 3 + 1, 'the bound, plus the pinned default tenant');
      }
      const metrics = await (await fetch(`${gw.url}/metrics`)).text();
      assert.match(metrics, /^modro_key_cache_entries\{kind="tenants"\} 4$/m);
      // Keys 0-9 and 10-19 each go through tenants 0-9: every tenant was evicted before its second key came.
      assert.match(metrics, /^modro_tenant_cache_lookups_total 20$/m);
      assert.match(metrics, /^modro_tenant_cache_evictions_total 17$/m);
      // Tenant 0 was evicted (its keys are hot); suspended through the repository and the write's reload.
      assert.equal(directory.cachedTenant(seededTenantOf(0, 10)), undefined);
      await gw.runtime.tenancy.repo.setSuspended(seededTenantOf(0, 10), { reason: 'test' });
      await directory.afterWrite();
      const refused = await chat(gw, seededKey(0));
      assert.equal(refused.status, 403);
      await refused.arrayBuffer();
      const other = await chat(gw, seededKey(1));
      assert.equal(other.status, 200);
      await other.arrayBuffer();

      // Lists come from the database, page by page (keyset on creation time and id; the seeded tenants tie on time).
      const admin = await adminClient(gw);
      const seen: string[] = [];
      let after: string | null = null;
      for (let page = 0; page < 10; page++) {
        const query: string = after ? `&after=${encodeURIComponent(after)}` : '';
        const body: { data: { id: string }[]; next: string | null } = await admin.json(
          'GET',
          `/admin/api/tenants?limit=4${query}`,
        );
        seen.push(...body.data.map((t) => t.id));
        after = body.next;
        if (!after) break;
      }
      // 10 seeded and the default tenant, each once.
      assert.equal(seen.length, 11);
      assert.equal(new Set(seen).size, 11);
      const bad = await admin.request('GET', '/admin/api/tenants?limit=0');
      assert.equal(bad.status, 400);
      await bad.arrayBuffer();
    } finally {
      await gw.close();
    }
  });
});
