import { type Kysely, type Selectable, sql, type Transaction } from 'kysely';
import { GatewayError } from '../core/errors.ts';
import type { Preset, Tier } from '../core/tiers.ts';
import type { Database } from '../store/schema.ts';
import type { ApiKeyTable, TenantTable } from '../store/tenancy-tables.ts';
import { generateManagedKey, type NewManagedKey } from './managed-keys.ts';
import { type ApiKeyRecord, type KeyLimits, keyFromRow, type Tenant, tenantFromRow } from './tenant.ts';

/**
 * Tenancy storage: tenants, managed keys and the settings version. Every write that changes what the
 * request path sees (a tenant's policy, a key, link revocation) bumps `tenancy_settings.version` in the same
 * transaction, which is how every node's cache learns it must reload (directory.ts). Only findActiveKey (a key
 * with its tenant, one query) and getTenant (a bring-your-own-key tenant) run on the request path, for the first
 * request of a key or tenant not in memory.
 */

export interface ActiveKeyRow {
  id: string;
  tenantId: string;
  hash: string;
  expiresAt: number | null;
  limits: KeyLimits | null;
  /** A rotated key's replaced secret, and until when it still works. */
  previousHash: string | null;
  previousValidUntil: number | null;
}

/** A tenant's place in the lists' order (newest first, then by id), for keyset paging. */
export interface TenantCursor {
  createdAt: number;
  id: string;
}

/** `<created_at>.<id>`: the cursor of a tenant in links and the admin API's `next`. */
export function tenantCursor(tenant: { createdAt: number; id: string }): string {
  return `${tenant.createdAt}.${tenant.id}`;
}

/** A cursor from `tenantCursor`, or undefined when the text is not one. */
export function parseTenantCursor(text: string): TenantCursor | undefined {
  const dot = text.indexOf('.');
  const createdAt = Number(text.slice(0, dot));
  if (dot < 1 || !Number.isSafeInteger(createdAt)) return undefined;
  return { createdAt, id: text.slice(dot + 1) };
}

/** A cold key's row with its tenant's, read together (decision 0044); `tenant` undefined: no such tenant row. */
export interface ActiveKeyWithTenant extends ActiveKeyRow {
  tenant: Tenant | undefined;
}

const KEY_COLUMNS = [
  'id',
  'tenant_id',
  'name',
  'prefix',
  'created_at',
  'revoked_at',
  'expires_at',
  'last_used_at',
  'limits',
  'previous_valid_until',
] as const;

export interface TenancySnapshotRows {
  version: number;
  tenants: Tenant[];
  /** Keys not revoked (expired ones included: the request path says "expired" instead of "invalid"). */
  keys: ActiveKeyRow[];
}

export interface NewTenant {
  id: string;
  name?: string | undefined;
  preset?: Preset | null | undefined;
  tierModels?: Partial<Record<Tier, string | null>> | undefined;
  allowedModels?: string[] | null | undefined;
  groups?: string[] | null | undefined;
}

export interface PolicyPatch {
  name?: string;
  /** null resets to the operator default. */
  preset?: Preset | null;
  /** A tier set to null goes back to the preset's own choice. */
  tierModels?: Partial<Record<Tier, string | null>>;
  allowedModels?: string[] | null;
  /** null or empty: in no group. */
  groups?: string[] | null;
}

export class TenancyRepository {
  readonly db: Kysely<Database>;
  readonly #now: () => number;

  constructor(db: Kysely<Database>, now: () => number = Date.now) {
    this.db = db;
    this.#now = now;
  }

  async settingsVersion(): Promise<number> {
    const row = await this.db
      .selectFrom('tenancy_settings')
      .select('version')
      .where('id', '=', 1)
      .executeTakeFirstOrThrow();
    return Number(row.version);
  }

  /**
   * The version, every tenant and every unrevoked key, in one transaction. For tests and tools only: the
   * gateway never reads the whole tenant or key table (it uses loadTenantsAndKeys, findActiveKey and
   * getTenant, decisions 0028 and 0039).
   */
  async loadSnapshot(): Promise<TenancySnapshotRows> {
    return this.db.transaction().execute(async (trx) => {
      const version = await trx
        .selectFrom('tenancy_settings')
        .select('version')
        .where('id', '=', 1)
        .executeTakeFirstOrThrow();
      const tenants = await trx.selectFrom('tenant').selectAll().execute();
      const keys = await trx
        .selectFrom('api_key')
        .select(['id', 'tenant_id', 'hash', 'expires_at', 'limits', 'previous_hash', 'previous_valid_until'])
        .where('revoked_at', 'is', null)
        .execute();
      return {
        version: Number(version.version),
        tenants: tenants.map(tenantFromRow),
        keys: keys.map((k) => ({
          id: k.id,
          tenantId: k.tenant_id,
          hash: k.hash,
          expiresAt: k.expires_at === null ? null : Number(k.expires_at),
          limits: k.limits ? (JSON.parse(k.limits) as KeyLimits) : null,
          previousHash: k.previous_hash,
          previousValidUntil: k.previous_valid_until === null ? null : Number(k.previous_valid_until),
        })),
      };
    });
  }

  /**
   * What a node re-reads at start and after every change: the settings version, the tenants it holds in
   * memory (`tenantIds`: the pinned default tenant and the hot ones, bounded by tenancy.cache.tenants) and the
   * current rows of the keys it already caches, by key id (`keyIds`: the hot keys, bounded by
   * tenancy.cache.keys; by id, since a rotation moves a cached secret's hash to `previous_hash`), each read in
   * chunks on the primary key. Never every tenant or every key: the cost depends on the caches' sizes only.
   *
   * Not one transaction: the version is read first, so every row read after it is at least that new; a write
   * committed meanwhile bumped the version past it, and the feed reloads again. Between chunks the event loop
   * gets a turn (on SQLite each query blocks it), so requests interleave with a reload.
   */
  async loadTenantsAndKeys(tenantIds: readonly string[], keyIds: readonly string[]): Promise<TenancySnapshotRows> {
    const version = await this.settingsVersion();
    const tenants: Tenant[] = [];
    for (let i = 0; i < tenantIds.length; i += KEY_CHUNK) {
      if (i > 0) await yieldToEventLoop();
      const chunk = tenantIds.slice(i, i + KEY_CHUNK);
      const rows = await this.db.selectFrom('tenant').selectAll().where('id', 'in', chunk).execute();
      tenants.push(...rows.map(tenantFromRow));
    }
    const keys: ActiveKeyRow[] = [];
    for (let i = 0; i < keyIds.length; i += KEY_CHUNK) {
      await yieldToEventLoop();
      keys.push(...(await activeKeys(this.db, 'id', keyIds.slice(i, i + KEY_CHUNK))));
    }
    return { version, tenants, keys };
  }

  /**
   * The unrevoked key whose secret or rotated-away secret hashes to `hash`, with its tenant's row: one query,
   * one round trip (decision 0044), on two unique/indexed columns (api_key.hash, api_key.previous_hash) joined
   * to the tenant by primary key. On SQLite the query runs synchronously on the event loop (node:sqlite); it is
   * a few index probes, tens of microseconds (bench/many-keys.ts).
   */
  async findActiveKey(hash: string): Promise<ActiveKeyWithTenant | undefined> {
    const row = await this.db
      .selectFrom('api_key as k')
      .leftJoin('tenant as t', 't.id', 'k.tenant_id')
      .select([
        'k.id as key_id',
        'k.tenant_id',
        'k.hash',
        'k.expires_at',
        'k.limits',
        'k.previous_hash',
        'k.previous_valid_until',
      ])
      .selectAll('t')
      .where('k.revoked_at', 'is', null)
      .where((eb) => eb.or([eb('k.hash', '=', hash), eb('k.previous_hash', '=', hash)]))
      .executeTakeFirst();
    if (!row) return undefined;
    const { key_id, tenant_id, hash: keyHash, expires_at, limits, previous_hash, previous_valid_until, ...t } = row;
    return {
      ...activeKeyOf({ id: key_id, tenant_id, hash: keyHash, expires_at, limits, previous_hash, previous_valid_until }),
      // The tenant's columns are null together when the join found no row (its id is its primary key).
      tenant: t.id === null ? undefined : tenantFromRow(t as Selectable<TenantTable>),
    };
  }

  async getTenant(id: string): Promise<Tenant | undefined> {
    const row = await this.db.selectFrom('tenant').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? tenantFromRow(row) : undefined;
  }

  /**
   * Newest first (then by id). `kind` separates operator-made tenants from bring-your-own-key ones; `q` keeps
   * those whose id or name contains it (case-insensitive; a scan of the table, fine for an admin's search).
   * Keyset paging on (created_at, id), `tenantCursor` of a row: `after` gives the page following that tenant,
   * `before` the page preceding it (still in display order).
   */
  async listTenants(
    options: {
      limit?: number;
      kind?: 'managed' | 'byok';
      q?: string | undefined;
      after?: TenantCursor | undefined;
      before?: TenantCursor | undefined;
    } = {},
  ): Promise<Tenant[]> {
    let query = this.db.selectFrom('tenant').selectAll();
    if (options.kind === 'managed') query = query.where('byok_provider', 'is', null);
    if (options.kind === 'byok') query = query.where('byok_provider', 'is not', null);
    const q = options.q?.trim().toLowerCase();
    if (q) {
      // LIKE with the search text's wildcards escaped: "a_b" finds "a_b", not "axb".
      const pattern = `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      query = query.where((eb) =>
        eb.or([
          eb(sql`lower(${sql.ref('id')})`, 'like', sql`${pattern} escape '\\'`),
          eb(sql`lower(${sql.ref('name')})`, 'like', sql`${pattern} escape '\\'`),
        ]),
      );
    }
    const { after, before } = options;
    if (after) {
      query = query.where((eb) =>
        eb.or([
          eb('created_at', '<', after.createdAt),
          eb.and([eb('created_at', '=', after.createdAt), eb('id', '>', after.id)]),
        ]),
      );
    } else if (before) {
      query = query.where((eb) =>
        eb.or([
          eb('created_at', '>', before.createdAt),
          eb.and([eb('created_at', '=', before.createdAt), eb('id', '<', before.id)]),
        ]),
      );
    }
    // The page before a cursor is read backwards from it (the nearest rows first), then put back in order.
    const backwards = !after && before !== undefined;
    const rows = await query
      .orderBy('created_at', backwards ? 'asc' : 'desc')
      .orderBy('id', backwards ? 'desc' : 'asc')
      .limit(options.limit ?? 500)
      .execute();
    if (backwards) rows.reverse();
    return rows.map(tenantFromRow);
  }

  async countTenants(): Promise<{ managed: number; byok: number }> {
    const rows = await this.db
      .selectFrom('tenant')
      .select([
        sql<number>`case when byok_provider is null then 0 else 1 end`.as('byok'),
        (eb) => eb.fn.countAll<number>().as('n'),
      ])
      .groupBy(sql`case when byok_provider is null then 0 else 1 end`)
      .execute();
    const out = { managed: 0, byok: 0 };
    for (const row of rows) out[Number(row.byok) === 1 ? 'byok' : 'managed'] = Number(row.n);
    return out;
  }

  /** Throws invalid_request if the id is taken. */
  async createTenant(input: NewTenant): Promise<Tenant> {
    const now = this.#now();
    const inserted = await this.#write(async (trx) => {
      const result = await trx
        .insertInto('tenant')
        .values({
          id: input.id,
          name: input.name?.trim() || input.id,
          preset: input.preset ?? null,
          utility_model: input.tierModels?.utility ?? null,
          fast_model: input.tierModels?.fast ?? null,
          deep_model: input.tierModels?.deep ?? null,
          allowed_models: input.allowedModels ? JSON.stringify(input.allowedModels) : null,
          groups: input.groups && input.groups.length > 0 ? JSON.stringify(input.groups) : null,
          byok_provider: null,
          key_hmac: null,
          links_valid_after: 0,
          created_at: now,
          updated_at: now,
        })
        .onConflict((oc) => oc.column('id').doNothing())
        .returning('id')
        .execute();
      return result.length > 0;
    });
    if (!inserted) throw new GatewayError('invalid_request', `A tenant with the id '${input.id}' already exists`);
    return (await this.getTenant(input.id))!;
  }

  /**
   * Creates the tenant if missing; returns whether it did (concurrent creators are fine). Reads first: at every
   * start the tenant exists, and a read costs no write, no row lock and no WAL flush.
   */
  async ensureTenant(id: string, name: string): Promise<boolean> {
    const found = await this.db.selectFrom('tenant').select('id').where('id', '=', id).executeTakeFirst();
    if (found) return false;
    const now = this.#now();
    return this.#write(
      async (trx) => {
        const result = await trx
          .insertInto('tenant')
          .values({ id, name, links_valid_after: 0, created_at: now, updated_at: now })
          .onConflict((oc) => oc.column('id').doNothing())
          .returning('id')
          .execute();
        return result.length > 0;
      },
      (created) => created,
    );
  }

  /**
   * A bring-your-own-key tenant, on the key's first successful use: only the HMAC is stored. Idempotent:
   * two nodes (or two concurrent first requests) creating it race harmlessly.
   */
  async ensureByokTenant(id: string, keyHmac: string, provider: string): Promise<boolean> {
    const now = this.#now();
    return this.#write(
      async (trx) => {
        const result = await trx
          .insertInto('tenant')
          .values({
            id,
            name: `${provider} key ${id.slice(5, 13)}`,
            byok_provider: provider,
            key_hmac: keyHmac,
            links_valid_after: 0,
            created_at: now,
            updated_at: now,
          })
          .onConflict((oc) => oc.doNothing())
          .returning('id')
          .execute();
        return result.length > 0;
      },
      (created) => created,
    );
  }

  /** Applies a policy change; throws not_found for an unknown tenant. Validation is the caller's (policy.ts). */
  async updateTenant(id: string, patch: PolicyPatch): Promise<Tenant> {
    const values: Record<string, unknown> = { updated_at: this.#now() };
    if (patch.name !== undefined) values['name'] = patch.name.trim() || id;
    if (patch.preset !== undefined) values['preset'] = patch.preset;
    if (patch.tierModels) {
      for (const [tier, model] of Object.entries(patch.tierModels)) {
        if (model !== undefined) values[`${tier}_model`] = model;
      }
    }
    if (patch.allowedModels !== undefined) {
      values['allowed_models'] = patch.allowedModels === null ? null : JSON.stringify(patch.allowedModels);
    }
    if (patch.groups !== undefined) {
      values['groups'] = patch.groups && patch.groups.length > 0 ? JSON.stringify(patch.groups) : null;
    }
    const changed = await this.#write(async (trx) => {
      const result = await trx.updateTable('tenant').set(values).where('id', '=', id).executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    });
    if (!changed) throw new GatewayError('not_found', `No tenant '${id}'`);
    return (await this.getTenant(id))!;
  }

  /**
   * Suspends a tenant (its keys are refused on every /v1 route) or lifts the suspension (`null`); bumps the
   * settings version, so every replica applies it through its change feed. Throws not_found for an unknown tenant.
   */
  async setSuspended(id: string, suspension: { reason: string } | null): Promise<Tenant> {
    const at = this.#now();
    const changed = await this.#write(async (trx) => {
      const result = await trx
        .updateTable('tenant')
        .set({
          suspended_at: suspension ? at : null,
          suspended_reason: suspension ? suspension.reason : null,
          updated_at: at,
        })
        .where('id', '=', id)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    });
    if (!changed) throw new GatewayError('not_found', `No tenant '${id}'`);
    return (await this.getTenant(id))!;
  }

  /** Every dashboard link issued so far, and every open client session of the tenant, stop working. */
  async revokeDashboardLinks(id: string): Promise<number> {
    const at = this.#now();
    const changed = await this.#write(async (trx) => {
      const result = await trx
        .updateTable('tenant')
        .set({ links_valid_after: at, updated_at: at })
        .where('id', '=', id)
        .executeTakeFirst();
      await trx.deleteFrom('dashboard_session').where('kind', '=', 'client').where('tenant_id', '=', id).execute();
      return Number(result.numUpdatedRows) > 0;
    });
    if (!changed) throw new GatewayError('not_found', `No tenant '${id}'`);
    return at;
  }

  /** A new managed key; the returned `key` is the only time it exists outside the caller's hands. */
  async createKey(input: {
    tenantId: string;
    name?: string | undefined;
    expiresAt?: number | null | undefined;
    limits?: KeyLimits | null | undefined;
  }): Promise<{ record: ApiKeyRecord; key: string }> {
    const fresh: NewManagedKey = generateManagedKey();
    const now = this.#now();
    await this.#write(async (trx) => {
      const tenant = await trx.selectFrom('tenant').select('id').where('id', '=', input.tenantId).executeTakeFirst();
      if (!tenant) throw new GatewayError('not_found', `No tenant '${input.tenantId}'`);
      await trx
        .insertInto('api_key')
        .values({
          id: fresh.id,
          tenant_id: input.tenantId,
          name: input.name?.trim() || 'key',
          prefix: fresh.prefix,
          hash: fresh.hash,
          created_at: now,
          revoked_at: null,
          expires_at: input.expiresAt ?? null,
          last_used_at: null,
          limits: input.limits ? JSON.stringify(input.limits) : null,
          previous_hash: null,
          previous_valid_until: null,
        })
        .execute();
      return true;
    });
    return { record: (await this.getKey(fresh.id))!, key: fresh.key };
  }

  async getKey(id: string): Promise<ApiKeyRecord | undefined> {
    const row = await this.db.selectFrom('api_key').select(KEY_COLUMNS).where('id', '=', id).executeTakeFirst();
    return row ? keyFromRow(row) : undefined;
  }

  async listKeys(options: { tenantId?: string; limit?: number } = {}): Promise<ApiKeyRecord[]> {
    let query = this.db.selectFrom('api_key').select(KEY_COLUMNS);
    if (options.tenantId !== undefined) query = query.where('tenant_id', '=', options.tenantId);
    const rows = await query
      .orderBy('created_at', 'desc')
      .orderBy('id')
      .limit(options.limit ?? 1000)
      .execute();
    return rows.map(keyFromRow);
  }

  /** Revokes a key (idempotent); throws not_found for an unknown id. */
  async revokeKey(id: string): Promise<ApiKeyRecord> {
    const now = this.#now();
    const found = await this.#write(async (trx) => {
      const row = await trx.selectFrom('api_key').select(['id', 'revoked_at']).where('id', '=', id).executeTakeFirst();
      if (!row) return false;
      if (row.revoked_at === null)
        await trx.updateTable('api_key').set({ revoked_at: now }).where('id', '=', id).execute();
      return true;
    });
    if (!found) throw new GatewayError('not_found', `No key '${id}'`);
    return (await this.getKey(id))!;
  }

  /** Changes a key's expiry (null: never). */
  async setKeyExpiry(id: string, expiresAt: number | null): Promise<void> {
    const found = await this.#write(async (trx) => {
      const result = await trx
        .updateTable('api_key')
        .set({ expires_at: expiresAt })
        .where('id', '=', id)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    });
    if (!found) throw new GatewayError('not_found', `No key '${id}'`);
  }

  /** Replaces a key's limits (null: none); throws not_found for an unknown id. Validation is the caller's. */
  async setKeyLimits(id: string, limits: KeyLimits | null): Promise<ApiKeyRecord> {
    const found = await this.#write(async (trx) => {
      const result = await trx
        .updateTable('api_key')
        .set({ limits: limits ? JSON.stringify(limits) : null })
        .where('id', '=', id)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    });
    if (!found) throw new GatewayError('not_found', `No key '${id}'`);
    return (await this.getKey(id))!;
  }

  /**
   * A new secret for a key (same id, tenant, limits and usage history); the current secret keeps working
   * until `now + graceMs` (0: stops at once). A secret replaced by an earlier rotation stops at once.
   * Throws not_found for an unknown key, invalid_request for a revoked one.
   */
  async rotateKey(id: string, graceMs: number): Promise<{ record: ApiKeyRecord; key: string }> {
    const fresh: NewManagedKey = generateManagedKey();
    const now = this.#now();
    const found = await this.#write(
      async (trx) => {
        const row = await trx
          .selectFrom('api_key')
          .select(['id', 'hash', 'revoked_at'])
          .where('id', '=', id)
          .executeTakeFirst();
        if (!row) return 'missing' as const;
        if (row.revoked_at !== null) return 'revoked' as const;
        await trx
          .updateTable('api_key')
          .set({
            hash: fresh.hash,
            prefix: fresh.prefix,
            previous_hash: graceMs > 0 ? row.hash : null,
            previous_valid_until: graceMs > 0 ? now + graceMs : null,
          })
          .where('id', '=', id)
          .execute();
        return 'rotated' as const;
      },
      (what) => what === 'rotated',
    );
    if (found === 'missing') throw new GatewayError('not_found', `No key '${id}'`);
    if (found === 'revoked') throw new GatewayError('invalid_request', `Key '${id}' is revoked; create a new one`);
    return { record: (await this.getKey(id))!, key: fresh.key };
  }

  /**
   * Last-used times collected in memory (last-used.ts), written in one short transaction. Does not bump
   * the settings version: nothing on the request path depends on it.
   */
  async touchKeys(lastUsed: ReadonlyMap<string, number>): Promise<void> {
    if (lastUsed.size === 0) return;
    await this.db.transaction().execute(async (trx) => {
      for (const [id, at] of [...lastUsed].sort(([a], [b]) => (a < b ? -1 : 1))) {
        await trx
          .updateTable('api_key')
          .set({ last_used_at: at })
          .where('id', '=', id)
          .where((eb) => eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<', at)]))
          .execute();
      }
    });
  }

  /**
   * Runs a settings write and bumps the version in the same transaction, when `changed(result)` says the
   * write changed anything (by default: when the work returned a truthy value).
   */
  async #write<T>(work: (trx: Transaction<Database>) => Promise<T>, changed: (result: T) => boolean = Boolean) {
    return this.db.transaction().execute(async (trx) => {
      const result = await work(trx);
      if (changed(result)) await bumpVersion(trx);
      return result;
    });
  }
}

/** Key ids per query when re-reading the cached keys (well under every driver's bound-parameter limit). */
const KEY_CHUNK = 400;

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

async function activeKeys(
  db: Kysely<Database>,
  /** `either`: one hash, matched on `hash` or `previous_hash`; `id`: key ids. */
  by: 'either' | 'id',
  values: readonly string[],
): Promise<ActiveKeyRow[]> {
  if (values.length === 0) return [];
  const rows = await db
    .selectFrom('api_key')
    .select(['id', 'tenant_id', 'hash', 'expires_at', 'limits', 'previous_hash', 'previous_valid_until'])
    .where('revoked_at', 'is', null)
    .where((eb) =>
      by === 'either'
        ? eb.or([eb('hash', '=', values[0]!), eb('previous_hash', '=', values[0]!)])
        : eb('id', 'in', values),
    )
    .execute();
  return rows.map(activeKeyOf);
}

function activeKeyOf(
  k: Pick<
    Selectable<ApiKeyTable>,
    'id' | 'tenant_id' | 'hash' | 'expires_at' | 'limits' | 'previous_hash' | 'previous_valid_until'
  >,
): ActiveKeyRow {
  return {
    id: k.id,
    tenantId: k.tenant_id,
    hash: k.hash,
    expiresAt: k.expires_at === null ? null : Number(k.expires_at),
    limits: k.limits ? (JSON.parse(k.limits) as KeyLimits) : null,
    previousHash: k.previous_hash,
    previousValidUntil: k.previous_valid_until === null ? null : Number(k.previous_valid_until),
  };
}

export async function bumpVersion(trx: Kysely<Database>): Promise<void> {
  await trx
    .updateTable('tenancy_settings')
    .set((eb) => ({ version: eb('version', '+', 1) }))
    .where('id', '=', 1)
    .execute();
}
