import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sha256Hex } from '../../src/tenancy/auth.ts';
import { TenantDirectory } from '../../src/tenancy/directory.ts';
import { generateManagedKey } from '../../src/tenancy/managed-keys.ts';
import { type ActiveKeyWithTenant, TenancyRepository } from '../../src/tenancy/repository.ts';
import { forEachDatabase } from '../helpers/databases.ts';
import type { TestGateway } from '../helpers/gateway.ts';
import { seededKey, seededKeyId, seededTenantOf, seedManagedKeys } from '../helpers/seed-keys.ts';
import { type AdminClient, adminClient, chat, startTenancyGateway } from './helpers.ts';

/**
 * Memory follows active keys: 2,000 keys in the database, a cache of 100. Keys beyond the cache still
 * authenticate (one query each on first use), memory stays bounded (entries counted), a key revoked while
 * evicted is refused on its next lookup, an unknown key costs one query per TTL, and startup reads no key.
 */
class CountingRepository extends TenancyRepository {
  finds = 0;
  tenantFinds = 0;
  loadedKeys: number[] = [];
  loadedTenants: number[] = [];

  override async findActiveKey(hash: string): Promise<ActiveKeyWithTenant | undefined> {
    this.finds++;
    return super.findActiveKey(hash);
  }

  override async getTenant(id: string) {
    this.tenantFinds++;
    return super.getTenant(id);
  }

  override async loadTenantsAndKeys(tenantIds: readonly string[], keyIds: readonly string[]) {
    this.loadedTenants.push(tenantIds.length);
    this.loadedKeys.push(keyIds.length);
    return super.loadTenantsAndKeys(tenantIds, keyIds);
  }
}

const KEYS = 2_000;
const TENANTS = 10;
const CACHE = 100;
const UNKNOWN = 50;
const TTL = 5_000;

forEachDatabase('hot keys', (suite) => {
  it('2,000 keys through a cache of 100: bounded, looked up once each, revocations and unknown keys', async () => {
    const { store } = await suite.fresh();
    await seedManagedKeys(store.db, { keys: KEYS, tenants: TENANTS });
    let now = 1_000_000;
    const repo = new CountingRepository(store.db, () => now);
    const errors: unknown[] = [];
    const directory = new TenantDirectory({
      repo,
      feed: { subscribe() {}, async publish() {}, close() {} },
      policyOf: () => ({}),
      keyCache: { keys: CACHE, unknownKeys: UNKNOWN, unknownTtlMs: TTL },
      now: () => now,
      onError: (e) => errors.push(e),
    });
    await directory.start();
    try {
      assert.deepEqual(repo.loadedKeys, [0], 'startup reads no key');
      assert.deepEqual(repo.loadedTenants, [0], 'and no tenant (none pinned here)');
      assert.equal(directory.keyCacheStats.keys, 0);
      assert.equal(directory.cachedTenant(seededTenantOf(7, TENANTS)), undefined, 'tenants come with their keys');

      // Every key authenticates, far beyond the cache size; the cache never holds more than its bound.
      let largest = 0;
      for (let i = 0; i < KEYS; i++) {
        const entry = await directory.key(sha256Hex(seededKey(i)));
        assert.equal(entry?.id, seededKeyId(i));
        assert.equal(entry.tenantId, seededTenantOf(i, TENANTS));
        largest = Math.max(largest, directory.keyCacheStats.keys);
      }
      assert.equal(repo.finds, KEYS, 'one query per cold key');
      // Decision 0044 (it was one more query per tenant, with its first key, under 0039).
      assert.equal(repo.tenantFinds, 0, 'a tenant comes in the same query as its first key');
      assert.equal(directory.keyCacheStats.tenantLookups, TENANTS, 'read from the database once per tenant');
      assert.equal(directory.keyCacheStats.tenants, TENANTS);
      assert.equal(largest, CACHE);
      assert.equal(directory.keyCacheStats.evictions, KEYS - CACHE);

      // The last 100 are hot: answered from memory, synchronously, no query.
      for (let i = KEYS - CACHE; i < KEYS; i++) {
        const entry = directory.key(sha256Hex(seededKey(i)));
        assert.ok(!(entry instanceof Promise) && entry?.id === seededKeyId(i), `key ${i} is hot`);
      }
      assert.equal(repo.finds, KEYS);

      // Concurrent first requests of an evicted key share one lookup.
      const cold = sha256Hex(seededKey(0));
      const answers = await Promise.all(Array.from({ length: 20 }, () => directory.key(cold)));
      assert.ok(answers.every((e) => e?.id === seededKeyId(0)));
      assert.equal(repo.finds, KEYS + 1);

      // Revoked while evicted, without any notice reaching this node: the re-lookup reads the database.
      const evicted = sha256Hex(seededKey(5));
      assert.equal(directory.cachedKey(evicted), undefined);
      await store.db.updateTable('api_key').set({ revoked_at: now }).where('id', '=', seededKeyId(5)).execute();
      assert.equal(await directory.key(evicted), undefined, 'a revoked key is refused after eviction');

      // Revoked while hot: the write's reload drops it.
      const hot = sha256Hex(seededKey(KEYS - 1));
      assert.ok(directory.cachedKey(hot));
      await repo.revokeKey(seededKeyId(KEYS - 1));
      await directory.afterWrite();
      assert.equal(directory.cachedKey(hot), undefined);
      assert.equal(await directory.key(hot), undefined);
      assert.ok(repo.loadedKeys.at(-1)! <= CACHE, 'a reload re-reads only the cached keys');

      // Rotated while hot: the old secret keeps working until its grace deadline, the new one works.
      const rotatedHash = sha256Hex(seededKey(KEYS - 2));
      await directory.key(rotatedHash);
      const { key: newKey } = await repo.rotateKey(seededKeyId(KEYS - 2), 60_000);
      await directory.afterWrite();
      assert.equal(directory.cachedKey(rotatedHash)?.graceUntil, now + 60_000);
      assert.equal((await directory.key(sha256Hex(newKey)))?.id, seededKeyId(KEYS - 2));

      // An unknown key: one query within the TTL, however often it is tried; another once the TTL is over.
      const unknown = sha256Hex(generateManagedKey().key);
      const before = repo.finds;
      for (let n = 0; n < 50; n++) assert.equal(await directory.key(unknown), undefined);
      assert.equal(repo.finds, before + 1, 'an unknown key hits the database once within the TTL');
      now += TTL;
      assert.equal(await directory.key(unknown), undefined);
      assert.equal(repo.finds, before + 2);

      // Unknown keys stay bounded too.
      for (let n = 0; n < 3 * UNKNOWN; n++) await directory.key(sha256Hex(generateManagedKey().key));
      assert.equal(directory.keyCacheStats.unknown, UNKNOWN);
      assert.ok(directory.keyCacheStats.keys <= CACHE);
      assert.deepEqual(errors, []);
    } finally {
      directory.close();
    }
  });

  it('a lookup that overlaps a reload is answered but not cached (it may predate the write)', async () => {
    const { store } = await suite.fresh();
    await seedManagedKeys(store.db, { keys: 3, tenants: 1 });
    const repo = new TenancyRepository(store.db);
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let hold = true;
    let read!: () => void;
    const rowRead = new Promise<void>((resolve) => {
      read = resolve;
    });
    const slow = new (class extends TenancyRepository {
      override async findActiveKey(hash: string) {
        const row = await super.findActiveKey(hash);
        if (hold) {
          read();
          await held;
        }
        return row;
      }
    })(store.db);
    const directory = new TenantDirectory({
      repo: slow,
      feed: { subscribe() {}, async publish() {}, close() {} },
      policyOf: () => ({}),
      onError: () => {},
    });
    await directory.start();
    const hash = sha256Hex(seededKey(1));
    const pending = directory.key(hash);
    await rowRead;
    // The key is revoked and the reload runs while the lookup holds its (now stale) row.
    await repo.revokeKey(seededKeyId(1));
    await directory.reload();
    hold = false;
    release();
    assert.equal((await pending)?.id, seededKeyId(1), 'the overlapping request got the row it read');
    assert.equal(directory.cachedKey(hash), undefined, 'but it was not kept');
    assert.equal(await directory.key(hash), undefined, 'the next request reads the revocation');
    directory.close();
  });
});

describe('hot keys through the gateway (tenancy.cache.keys = 100)', () => {
  let gw: TestGateway;
  let admin: AdminClient;
  before(async () => {
    gw = await startTenancyGateway({ tenancy: { cache: { keys: CACHE, unknownKeys: UNKNOWN } } });
    admin = await adminClient(gw);
    await seedManagedKeys(gw.runtime.store.db, { keys: 300, tenants: 3 });
  });
  after(() => gw.close());

  it('300 keys answer 200, the cache stays at 100, an evicted key revoked by the admin API gets 401', async () => {
    const directory = gw.runtime.tenancy.directory;
    for (let i = 0; i < 300; i++) {
      const res = await chat(gw, seededKey(i));
      assert.equal(res.status, 200, `key ${i}: ${await res.text()}`);
      await res.arrayBuffer().catch(() => {});
      assert.ok(directory.keyCacheStats.keys <= CACHE);
    }
    assert.equal(directory.keyCacheStats.keys, CACHE);
    assert.equal(directory.cachedKey(sha256Hex(seededKey(0))), undefined, 'key 0 was evicted');
    await admin.json('POST', `/admin/api/keys/${seededKeyId(0)}/revoke`);
    const refused = await chat(gw, seededKey(0));
    assert.equal(refused.status, 401);
    const body = await refused.text();
    assert.ok(!body.includes(seededKey(0)) && !/at .+\.ts:\d+/.test(body), 'no key, no stack in the answer');
    const unknown = await chat(gw, generateManagedKey().key);
    assert.equal(unknown.status, 401);
    await unknown.text();
    assert.ok(!gw.logs.some((line) => line.includes(seededKey(0))), 'keys never reach the logs');
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    assert.match(metrics, /^modro_key_cache_entries\{kind="keys"\} 100$/m);
    // The revoked key and the made-up one: both unknown to the database now.
    assert.match(metrics, /^modro_key_cache_entries\{kind="unknown"\} 2$/m);
    // 300 cold keys, key 0 again after eviction, the unknown key.
    assert.match(metrics, /^modro_key_cache_lookups_total 302$/m);
    assert.match(metrics, /^modro_key_cache_evictions_total 200$/m);
  });
});
