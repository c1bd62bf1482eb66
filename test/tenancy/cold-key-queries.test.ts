import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { KyselyPlugin } from 'kysely';
import { sha256Hex } from '../../src/tenancy/auth.ts';
import { TenantDirectory } from '../../src/tenancy/directory.ts';
import { TenancyRepository } from '../../src/tenancy/repository.ts';
import { forEachDatabase } from '../helpers/databases.ts';
import { seededKey, seededTenantOf, seedManagedKeys } from '../helpers/seed-keys.ts';

/**
 * A cold key of a cold tenant costs one database round trip (decision 0044): the key's row and its tenant's come
 * in one query, counted here on the repository's own Kysely instance (every statement executed, whatever its
 * kind). The tenant read with the key is the same as the one read alone; the negative cache and a reload's
 * invalidation behave as before.
 */
const TENANTS = 2;
const TTL = 5_000;

/** Counts every statement executed through the Kysely instance it is attached to (one result per execution). */
function counter(): KyselyPlugin & { executed: string[] } {
  const executed: string[] = [];
  return {
    executed,
    transformQuery: (args) => args.node,
    transformResult: async (args) => {
      executed.push(args.queryId.queryId);
      return args.result;
    },
  };
}

forEachDatabase('cold key lookup', (suite) => {
  it('a cold key of a cold tenant is one query; its tenant is the one a lookup by id reads', async () => {
    const { store } = await suite.fresh();
    // Key i belongs to tenant i % 2: keys 0, 2 and 4 are tenant 0's, 1 is tenant 1's.
    await seedManagedKeys(store.db, { keys: 6, tenants: TENANTS });
    const plain = new TenancyRepository(store.db);
    const tenantId = seededTenantOf(0, TENANTS);
    // Columns of every kind, for the join's mapping: a preset, a tier model, a JSON list, a suspension's number.
    await plain.updateTenant(tenantId, {
      preset: 'cheapest',
      tierModels: { fast: 'gpt-4o-mini' },
      allowedModels: ['gpt-4o-mini'],
      groups: ['g1'],
    });
    let now = 1_000_000;
    const counting = counter();
    const repo = new TenancyRepository(store.db.withPlugin(counting), () => now);
    const directory = new TenantDirectory({
      repo,
      feed: { subscribe() {}, async publish() {}, close() {} },
      policyOf: (t) => (t.preset ? { preset: t.preset } : {}),
      keyCache: { unknownTtlMs: TTL },
      now: () => now,
      onError: (e) => assert.fail(String(e)),
    });
    await directory.start();
    try {
      assert.ok(counting.executed.length > 0, 'the counter sees the start');
      assert.equal(directory.cachedTenant(tenantId), undefined, 'the tenant is cold');

      counting.executed.length = 0;
      const first = await directory.key(sha256Hex(seededKey(0)));
      assert.equal(counting.executed.length, 1, 'one query for a cold key of a cold tenant');
      assert.equal(first?.tenant?.tenant.id, tenantId);
      assert.deepEqual(first.tenant.tenant, await plain.getTenant(tenantId), 'the tenant as read by id');
      assert.equal(first.tenant.policy.preset, 'cheapest');
      assert.equal(directory.cachedTenant(tenantId), first.tenant, 'kept in memory');
      assert.equal(directory.keyCacheStats.tenantLookups, 1);

      // A cold key of a warm tenant: one query too, and the entry in memory is the one it uses.
      counting.executed.length = 0;
      const second = await directory.key(sha256Hex(seededKey(2)));
      assert.equal(counting.executed.length, 1);
      assert.equal(second?.tenant, first.tenant);
      assert.equal(directory.keyCacheStats.tenantLookups, 1, 'no tenant read for a tenant in memory');

      // Warm: no query at all, and no promise.
      counting.executed.length = 0;
      const warm = directory.key(sha256Hex(seededKey(0)));
      assert.ok(!(warm instanceof Promise) && warm?.id === first.id);
      assert.equal(counting.executed.length, 0);

      // The negative cache: an unknown key is one query per TTL.
      const unknown = sha256Hex('mdro_not-a-key');
      for (let n = 0; n < 5; n++) assert.equal(await directory.key(unknown), undefined);
      assert.equal(counting.executed.length, 1, 'one query within the TTL');
      now += TTL;
      assert.equal(await directory.key(unknown), undefined);
      assert.equal(counting.executed.length, 2, 'again after it');

      // Invalidation: a suspension written elsewhere reaches the cached keys and tenant at the reload, and a cold
      // key of that tenant after it answers with the suspended tenant.
      await plain.setSuspended(tenantId, { reason: 'test' });
      await directory.afterWrite();
      const suspended = directory.key(sha256Hex(seededKey(0)));
      assert.ok(!(suspended instanceof Promise) && suspended?.tenant?.tenant.suspendedAt != null);
      assert.ok(directory.cachedTenant(tenantId)?.tenant.suspendedAt != null);
      const later = await directory.key(sha256Hex(seededKey(4)));
      assert.ok(later?.tenant?.tenant.suspendedAt != null, 'a cold key after the reload: the suspended tenant');

      // The other tenant, still cold: one query again.
      counting.executed.length = 0;
      const other = await directory.key(sha256Hex(seededKey(1)));
      assert.equal(counting.executed.length, 1);
      assert.equal(other?.tenant?.tenant.id, seededTenantOf(1, TENANTS));
      assert.equal(other.tenant.tenant.suspendedAt ?? null, null);
    } finally {
      directory.close();
    }
  });
});
