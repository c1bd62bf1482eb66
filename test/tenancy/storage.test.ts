import assert from 'node:assert/strict';
import { it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Kysely } from 'kysely';
import { sql } from 'kysely';
import type { Database } from '../../src/store/schema.ts';
import { AdminUsers } from '../../src/tenancy/admin-users.ts';
import { sha256Hex } from '../../src/tenancy/auth.ts';
import { PollingChangeFeed } from '../../src/tenancy/change-feed.ts';
import { TenantDirectory } from '../../src/tenancy/directory.ts';
import { TenancyRepository } from '../../src/tenancy/repository.ts';
import { SessionStore } from '../../src/tenancy/sessions.ts';
import { forEachDatabase } from '../helpers/databases.ts';

/** Tenancy storage on SQLite and PostgreSQL: tenants, keys, settings version, directory reloads, sessions, admins. */
forEachDatabase('tenancy storage', (suite) => {
  it('tenants: create, conflict, policy update; every settings write bumps the version', async () => {
    const { store } = await suite.fresh();
    const repo = new TenancyRepository(store.db);
    const v0 = await repo.settingsVersion();
    const acme = await repo.createTenant({ id: 'acme', name: 'Acme', preset: 'cheapest' });
    assert.equal(acme.preset, 'cheapest');
    assert.equal(await repo.settingsVersion(), v0 + 1);
    await assert.rejects(repo.createTenant({ id: 'acme' }), /already exists/);
    assert.equal(await repo.settingsVersion(), v0 + 1, 'a refused write does not bump');
    const updated = await repo.updateTenant('acme', {
      preset: null,
      tierModels: { fast: 'demo/demo-fast', deep: null },
      allowedModels: ['demo/demo-fast'],
    });
    assert.equal(updated.preset, null);
    assert.deepEqual(updated.tierModels, { fast: 'demo/demo-fast' });
    assert.deepEqual(updated.allowedModels, ['demo/demo-fast']);
    assert.equal(await repo.settingsVersion(), v0 + 2);
    await assert.rejects(repo.updateTenant('nobody', { preset: 'quality' }), /No tenant/);
  });

  it('key limits and rotation: stored, in the snapshot, and the replaced secret kept with its deadline', async () => {
    let now = 1_000_000;
    const { store } = await suite.fresh();
    const repo = new TenancyRepository(store.db, () => now);
    await repo.createTenant({ id: 'acme' });
    const limits = { rpm: 60, quota: { nanoUsd: 5_000_000_000, period: 'monthly' as const }, ips: ['10.0.0.0/8'] };
    const { record, key } = await repo.createKey({ tenantId: 'acme', limits });
    assert.deepEqual(record.limits, limits);
    const v = await repo.settingsVersion();
    const changed = await repo.setKeyLimits(record.id, { tpm: 1_000 });
    assert.deepEqual(changed.limits, { tpm: 1_000 });
    assert.equal(await repo.settingsVersion(), v + 1, 'a limits change bumps the version');
    now += 10;
    const rotated = await repo.rotateKey(record.id, 3_600_000);
    assert.equal(rotated.record.id, record.id);
    assert.equal(rotated.record.previousValidUntil, now + 3_600_000);
    assert.equal(rotated.record.prefix, rotated.key.slice(0, 13));
    const [row] = (await repo.loadSnapshot()).keys;
    assert.equal(row?.hash, sha256Hex(rotated.key));
    assert.equal(row?.previousHash, sha256Hex(key));
    assert.equal(row?.previousValidUntil, now + 3_600_000);
    assert.deepEqual(row?.limits, { tpm: 1_000 });
    const again = await repo.rotateKey(record.id, 0);
    const [after] = (await repo.loadSnapshot()).keys;
    assert.equal(after?.hash, sha256Hex(again.key));
    assert.equal(after?.previousHash, null, 'grace 0: the replaced secret is not kept');
    await repo.revokeKey(record.id);
    await assert.rejects(repo.rotateKey(record.id, 1), /revoked/);
    await assert.rejects(repo.rotateKey('key_nope', 1), /No key/);
    await assert.rejects(repo.setKeyLimits('key_nope', null), /No key/);
  });

  it('bring-your-own-key tenants are created once, storing only the HMAC', async () => {
    const { store } = await suite.fresh();
    const repo = new TenancyRepository(store.db);
    const hmac = 'ab'.repeat(32);
    assert.equal(await repo.ensureByokTenant(`byok_${hmac.slice(0, 32)}`, hmac, 'openai'), true);
    const v = await repo.settingsVersion();
    assert.equal(await repo.ensureByokTenant(`byok_${hmac.slice(0, 32)}`, hmac, 'openai'), false);
    assert.equal(await repo.settingsVersion(), v, 'a second first-use changes nothing');
    const [tenant] = await repo.listTenants({ kind: 'byok' });
    assert.equal(tenant?.byokProvider, 'openai');
    assert.deepEqual(await repo.countTenants(), { managed: 0, byok: 1 });
  });

  it('managed keys: only the hash is stored; revoked keys leave the snapshot; last-used does not bump', async () => {
    const { store } = await suite.fresh();
    const repo = new TenancyRepository(store.db);
    await repo.createTenant({ id: 'acme' });
    const { record, key } = await repo.createKey({ tenantId: 'acme', name: 'prod' });
    const rows = await store.db.selectFrom('api_key').selectAll().execute();
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.hash, sha256Hex(key));
    assert.ok(!JSON.stringify(rows).includes(key), 'the key itself is nowhere in the row');
    let snapshot = await repo.loadSnapshot();
    assert.deepEqual(
      snapshot.keys.map((k) => k.id),
      [record.id],
    );
    const v = await repo.settingsVersion();
    await repo.touchKeys(new Map([[record.id, 1234]]));
    assert.equal((await repo.getKey(record.id))?.lastUsedAt, 1234);
    assert.equal(await repo.settingsVersion(), v);
    await repo.revokeKey(record.id);
    snapshot = await repo.loadSnapshot();
    assert.deepEqual(snapshot.keys, []);
    assert.ok((await repo.getKey(record.id))?.revokedAt);
    await assert.rejects(repo.createKey({ tenantId: 'nobody' }), /No tenant/);
  });

  it('a directory on another node picks a change up through the version poll', async () => {
    const { store } = await suite.fresh();
    const writer = new TenancyRepository(store.db);
    const errors: unknown[] = [];
    const directory = new TenantDirectory({
      repo: new TenancyRepository(store.db),
      feed: new PollingChangeFeed(new TenancyRepository(store.db), 25, (e) => errors.push(e)),
      policyOf: (t) => (t.preset ? { preset: t.preset } : {}),
      onError: (e) => errors.push(e),
    });
    await writer.createTenant({ id: 'acme', preset: 'balanced' });
    await directory.start();
    try {
      assert.equal(directory.cachedTenant('acme'), undefined, 'tenants are loaded on first use');
      assert.equal((await directory.tenant('acme'))?.policy.preset, 'balanced');
      await writer.updateTenant('acme', { preset: 'cheapest' });
      await waitFor(() => directory.cachedTenant('acme')?.policy.preset === 'cheapest');
      const { key } = await writer.createKey({ tenantId: 'acme' });
      assert.equal((await directory.key(sha256Hex(key)))?.tenantId, 'acme');
      assert.deepEqual(errors, []);
    } finally {
      directory.close();
    }
  });

  it('concurrent reload requests coalesce and never miss the last write', async () => {
    const { store } = await suite.fresh();
    const repo = new TenancyRepository(store.db);
    const directory = new TenantDirectory({
      repo,
      feed: { subscribe() {}, async publish() {}, close() {} },
      policyOf: () => ({}),
      onError: () => {},
    });
    await directory.start();
    const before = directory.reloads;
    await repo.createTenant({ id: 'one' });
    await Promise.all([directory.reload(), directory.reload(), directory.reload(), directory.reload()]);
    assert.ok(directory.reloads - before <= 2, `coalesced (${directory.reloads - before} reloads)`);
    assert.ok(await directory.tenant('one'));
  });

  it('sessions: kind-scoped, expiring, stored as a hash; admin users authenticate by scrypt', async () => {
    const { store } = await suite.fresh();
    const repo = new TenancyRepository(store.db);
    await repo.createTenant({ id: 'acme' });
    let now = 1_000;
    const sessions = new SessionStore(store.db, () => now);
    const { token, session } = await sessions.create({ kind: 'client', tenantId: 'acme', ttlMs: 500 });
    assert.equal((await sessions.find(token, 'client'))?.tenantId, 'acme');
    assert.equal(await sessions.find(token, 'admin'), undefined, 'a client session is never an admin session');
    assert.equal(await sessions.find(`${token}x`, 'client'), undefined);
    const stored = await store.db.selectFrom('dashboard_session').selectAll().execute();
    assert.ok(!JSON.stringify(stored).includes(token));
    assert.equal(stored[0]?.csrf, session.csrf);
    now = 1_500;
    assert.equal(await sessions.find(token, 'client'), undefined, 'expired');
    assert.equal(await sessions.prune(), 1);

    const admins = new AdminUsers(store.db);
    assert.equal(await admins.upsert('root', 'a long password', { replace: false }), 'created');
    await assert.rejects(admins.upsert('root', 'another password', { replace: false }), /already exists/);
    await assert.rejects(admins.upsert('bob', 'short', { replace: false }), /at least/);
    assert.equal((await admins.authenticate('root', 'a long password'))?.username, 'root');
    assert.equal(await admins.authenticate('root', 'wrong password'), undefined);
    assert.equal(await admins.authenticate('nobody', 'a long password'), undefined);
    const hashes = await store.db.selectFrom('admin_user').select('password_hash').execute();
    assert.ok(!JSON.stringify(hashes).includes('a long password'));
  });

  it('revoking dashboard links moves links_valid_after and ends the tenant’s client sessions only', async () => {
    const { store } = await suite.fresh();
    const repo = new TenancyRepository(store.db);
    await repo.createTenant({ id: 'acme' });
    await repo.createTenant({ id: 'globex' });
    const sessions = new SessionStore(store.db);
    const a = await sessions.create({ kind: 'client', tenantId: 'acme', ttlMs: 60_000 });
    const g = await sessions.create({ kind: 'client', tenantId: 'globex', ttlMs: 60_000 });
    const at = await repo.revokeDashboardLinks('acme');
    assert.equal((await repo.getTenant('acme'))?.linksValidAfter, at);
    assert.equal(await sessions.find(a.token, 'client'), undefined);
    assert.ok(await sessions.find(g.token, 'client'));
    assert.equal(await countRows(store.db), 2);
  });
});

async function countRows(db: Kysely<Database>): Promise<number> {
  const result = await sql<{ n: number }>`select count(*) as n from tenant`.execute(db);
  return Number(result.rows[0]?.n);
}

/** Waits (bounded) for a condition that a background poll makes true. */
async function waitFor(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail('condition not reached in time');
    await sleep(10);
  }
}
