import type { CompiledLimits, KeyLimits } from '../limits/key-limits.ts';
import type { RoutingPolicy } from '../router/router.ts';
import type { SettingsChangeFeed } from './change-feed.ts';
import type { ActiveKeyRow, TenancyRepository } from './repository.ts';
import type { Tenant } from './tenant.ts';

/**
 * The request path's view of tenancy: the tenants and managed keys in use (hot), each in a bounded cache
 * filled on first use (decisions 0028 and 0039). Only the default tenant (configured gateway keys) is
 * loaded at start and always kept; nothing at start or in a reload is proportional to the tables' sizes.
 *
 * Keys: a key seen for the first time is read by one indexed query (TenancyRepository.findActiveKey) that
 * brings its tenant's row along (a join on the primary key, decision 0044), used when that tenant is not in
 * memory; concurrent first requests of the same key (or tenant) share one query. Up to `keys` keys and `tenants` tenants are kept,
 * least recently used evicted first; an evicted entry is simply looked up again. A key entry holds its
 * tenant's entry, so a key in memory answers without a tenant lookup even if the tenant was evicted. Keys
 * and tenants the database does not know (or knows revoked) are remembered as unknown for `unknownTtlMs`, up
 * to `unknownKeys` of each, so a client retrying a bad key or an unknown bring-your-own-key tenant, or a
 * flood of made-up keys, costs at most one query per key per TTL.
 *
 * Invalidation: each settings write bumps a version row in the same transaction. The node that wrote
 * reloads at once (`afterWrite`), other nodes notice through the change feed (Redis pub/sub, the version poll
 * underneath) and reload. A reload re-reads only what is cached: the tenants in memory (and those of the keys
 * in memory) and the cached keys' rows, by id, in chunks on the primary keys, bounded by the cache sizes;
 * it forgets every unknown key and tenant, and swaps the result in at once, so a revocation, rotation, limit
 * edit or tenant settings change applies as fast as before. A lookup that overlapped a reload is answered
 * but not cached (it may have read the row before the write).
 */
export interface KeyCacheOptions {
  /** Most managed keys kept in memory (about 1.4 KB each with limits). */
  keys: number;
  /** Most tenants kept in memory (with their routing policy; the pinned ones come on top). */
  tenants: number;
  /** Most unknown keys remembered (and, separately, as many unknown tenants). */
  unknownKeys: number;
  /** How long an unknown key or tenant is remembered (ms); a reload forgets them all at once anyway. */
  unknownTtlMs: number;
}

export const DEFAULT_KEY_CACHE: KeyCacheOptions = {
  keys: 10_000,
  tenants: 10_000,
  unknownKeys: 10_000,
  unknownTtlMs: 5_000,
};

export interface KeyCacheStats {
  /** Managed keys in memory (a rotated key's two secrets count as two). */
  keys: number;
  /** Unknown keys remembered. */
  unknown: number;
  /** Lookups that went to the database. */
  lookups: number;
  /** Keys evicted to stay within the bound. */
  evictions: number;
  /** Tenants in memory, unknown tenants remembered, tenant lookups and evictions, likewise. */
  tenants: number;
  unknownTenants: number;
  tenantLookups: number;
  tenantEvictions: number;
}

export interface TenantEntry {
  tenant: Tenant;
  /** Frozen, shared by every request of the tenant. */
  policy: RoutingPolicy;
}

export interface KeyEntry {
  id: string;
  tenantId: string;
  /** The key's tenant as of the lookup or the last reload; undefined if the database has no such tenant. */
  tenant: TenantEntry | undefined;
  expiresAt: number | null;
  /** The key's limits, compiled; null: not limited. */
  limits: CompiledLimits | null;
  /** The tenant's policy narrowed to the key's model list; undefined: the tenant's own. */
  policy: RoutingPolicy | undefined;
  /** Set on the entry of a rotated key's replaced secret: it stops working then (ms). */
  graceUntil: number | null;
}

export interface DirectoryOptions {
  repo: TenancyRepository;
  feed: SettingsChangeFeed;
  policyOf(tenant: Tenant): RoutingPolicy;
  /** Stored key limits → what the request path checks (default: keys are not limited). */
  compileLimits?(limits: KeyLimits | null): CompiledLimits | null;
  /** Bounds of the caches (default DEFAULT_KEY_CACHE; tenancy.cache in the configuration). */
  keyCache?: Partial<KeyCacheOptions>;
  /** Tenants loaded at start and never evicted (the default tenant, which configured gateway keys use). */
  pinnedTenants?: readonly string[];
  now?: () => number;
  onError(err: unknown): void;
}

/** A Map in insertion order used as a least-recently-used list: a hit moves the entry last. */
function touch<K, V>(map: Map<K, V>, key: K, value: V): void {
  map.delete(key);
  map.set(key, value);
}

export class TenantDirectory {
  readonly #options: DirectoryOptions;
  readonly #limits: KeyCacheOptions;
  readonly #now: () => number;
  readonly #pinnedIds: ReadonlySet<string>;
  #version = -1;
  /** Pinned tenants, by id (never evicted; undefined until loaded, or if the database lacks them). */
  #pinned = new Map<string, TenantEntry>();
  /** Hot tenants by id, least recently used first. */
  readonly #tenants = new Map<string, TenantEntry>();
  /** Unknown tenants by id → until when they are remembered. */
  readonly #unknownTenants = new Map<string, number>();
  readonly #pendingTenants = new Map<string, Promise<TenantEntry | undefined>>();
  /** Hot keys by hash, least recently used first (a Map keeps insertion order). */
  readonly #keys = new Map<string, KeyEntry>();
  /** Unknown keys by hash → until when they are remembered (inserted in expiry order). */
  readonly #unknown = new Map<string, number>();
  /** Lookups under way, by hash: concurrent first requests share one query. */
  readonly #pending = new Map<string, Promise<KeyEntry | undefined>>();
  /** Bumped when a reload starts: a lookup that saw another value is not cached. */
  #generation = 0;
  #running: Promise<void> | undefined;
  #queued: Promise<void> | undefined;
  #reloads = 0;
  #lookups = 0;
  #evictions = 0;
  #tenantLookups = 0;
  #tenantEvictions = 0;

  constructor(options: DirectoryOptions) {
    this.#options = options;
    this.#limits = { ...DEFAULT_KEY_CACHE, ...options.keyCache };
    this.#now = options.now ?? Date.now;
    this.#pinnedIds = new Set(options.pinnedTenants ?? []);
  }

  /** Loads the settings version and the pinned tenants (no other tenant, no key), then follows the feed. */
  async start(): Promise<void> {
    await this.reload();
    this.#options.feed.subscribe((version) => {
      if (version !== undefined && version === this.#version) return;
      this.reload().catch(this.#options.onError);
    });
  }

  get version(): number {
    return this.#version;
  }

  /** How many times the caches were reloaded (tests watch it to know a reload happened). */
  get reloads(): number {
    return this.#reloads;
  }

  get keyCacheStats(): KeyCacheStats {
    return {
      keys: this.#keys.size,
      unknown: this.#unknown.size,
      lookups: this.#lookups,
      evictions: this.#evictions,
      tenants: this.#tenants.size + this.#pinned.size,
      unknownTenants: this.#unknownTenants.size,
      tenantLookups: this.#tenantLookups,
      tenantEvictions: this.#tenantEvictions,
    };
  }

  /** The tenant if it is in memory now (no lookup, no change of recency). */
  cachedTenant(id: string): TenantEntry | undefined {
    return this.#pinned.get(id) ?? this.#tenants.get(id);
  }

  /**
   * The tenant with this id (undefined: the database has none). From memory when hot, pinned or remembered as
   * unknown (a plain value); otherwise a promise of one lookup by primary key, shared meanwhile.
   */
  tenant(id: string): TenantEntry | undefined | Promise<TenantEntry | undefined> {
    const pinned = this.#pinned.get(id);
    if (pinned) return pinned;
    const hot = this.#tenants.get(id);
    if (hot) {
      touch(this.#tenants, id, hot);
      return hot;
    }
    const unknownUntil = this.#unknownTenants.get(id);
    if (unknownUntil !== undefined) {
      if (this.#now() < unknownUntil) return undefined;
      this.#unknownTenants.delete(id);
    }
    const pending = this.#pendingTenants.get(id);
    if (pending) return pending;
    const lookup: Promise<TenantEntry | undefined> = this.#lookupTenant(id).finally(() => {
      if (this.#pendingTenants.get(id) === lookup) this.#pendingTenants.delete(id);
    });
    this.#pendingTenants.set(id, lookup);
    return lookup;
  }

  /** The key if it is in memory now (no lookup). */
  cachedKey(hash: string): KeyEntry | undefined {
    return this.#keys.get(hash);
  }

  /**
   * The unrevoked key with this hash (undefined: unknown or revoked). From memory when hot or remembered as
   * unknown (a plain value, no promise: the warm path stays synchronous); otherwise a promise of one lookup,
   * shared by every request for the same key meanwhile. Rejects if the database does.
   */
  key(hash: string): KeyEntry | undefined | Promise<KeyEntry | undefined> {
    const hot = this.#keys.get(hash);
    if (hot) {
      // Most recently used goes last.
      touch(this.#keys, hash, hot);
      return hot;
    }
    const unknownUntil = this.#unknown.get(hash);
    if (unknownUntil !== undefined) {
      if (this.#now() < unknownUntil) return undefined;
      this.#unknown.delete(hash);
    }
    const pending = this.#pending.get(hash);
    if (pending) return pending;
    const lookup: Promise<KeyEntry | undefined> = this.#lookup(hash).finally(() => {
      // A reload may have dropped this lookup and another may have started since: remove only our own.
      if (this.#pending.get(hash) === lookup) this.#pending.delete(hash);
    });
    this.#pending.set(hash, lookup);
    return lookup;
  }

  /** After a write on this node: reload now, then tell the other nodes. */
  async afterWrite(): Promise<void> {
    await this.reload();
    await this.#options.feed.publish(this.#version);
  }

  /**
   * Reloads the caches. Calls during a running reload share one follow-up reload that starts after it,
   * so a write committed mid-reload is never missed and reloads never pile up.
   */
  reload(): Promise<void> {
    if (this.#running) {
      this.#queued ??= this.#running
        .catch(() => {})
        .then(() => {
          this.#queued = undefined;
          return this.reload();
        });
      return this.#queued;
    }
    this.#running = this.#load().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  close(): void {
    this.#options.feed.close();
  }

  /** Whether a lookup that started at `generation` may keep what it read (no reload started or ran meanwhile). */
  #fresh(generation: number): boolean {
    return generation === this.#generation && !this.#running;
  }

  async #lookupTenant(id: string): Promise<TenantEntry | undefined> {
    const generation = this.#generation;
    this.#tenantLookups++;
    const tenant = await this.#options.repo.getTenant(id);
    const entry = tenant ? this.#tenantEntry(tenant) : undefined;
    if (this.#fresh(generation)) {
      if (entry) this.#rememberTenant(entry);
      else this.#rememberUnknownTenant(id);
    }
    return entry;
  }

  async #lookup(hash: string): Promise<KeyEntry | undefined> {
    const generation = this.#generation;
    this.#lookups++;
    // The key's row with its tenant's: one query (decision 0044).
    const row = await this.#options.repo.findActiveKey(hash);
    if (!row) {
      if (this.#fresh(generation)) this.#rememberUnknown(hash);
      return undefined;
    }
    // The tenant in memory if it is there (the entry other keys share, kept current by reloads); else the row
    // read with the key, which counts as a tenant lookup.
    const cached = this.cachedTenant(row.tenantId);
    if (!cached) this.#tenantLookups++;
    const tenant = cached ?? (row.tenant ? this.#tenantEntry(row.tenant) : undefined);
    const entry = this.#entryOf(row, hash, tenant);
    // A reload started (or was running) meanwhile: the rows may predate the write it applies. Answer, don't keep.
    if (this.#fresh(generation)) {
      if (entry) this.#remember(hash, entry);
      else this.#rememberUnknown(hash);
      if (tenant) {
        if (!this.#pinned.has(tenant.tenant.id)) this.#rememberTenant(tenant);
        this.#unknownTenants.delete(tenant.tenant.id);
      } else this.#rememberUnknownTenant(row.tenantId);
    }
    return entry;
  }

  #tenantEntry(tenant: Tenant): TenantEntry {
    return { tenant, policy: Object.freeze(this.#options.policyOf(tenant)) };
  }

  #rememberTenant(entry: TenantEntry): void {
    touch(this.#tenants, entry.tenant.id, entry);
    while (this.#tenants.size > this.#limits.tenants) {
      this.#tenants.delete(this.#tenants.keys().next().value!);
      this.#tenantEvictions++;
    }
  }

  #rememberUnknownTenant(id: string): void {
    touch(this.#unknownTenants, id, this.#now() + this.#limits.unknownTtlMs);
    while (this.#unknownTenants.size > this.#limits.unknownKeys) {
      this.#unknownTenants.delete(this.#unknownTenants.keys().next().value!);
    }
  }

  #remember(hash: string, entry: KeyEntry): void {
    touch(this.#keys, hash, entry);
    while (this.#keys.size > this.#limits.keys) {
      const oldest = this.#keys.keys().next().value!;
      this.#keys.delete(oldest);
      this.#evictions++;
    }
  }

  #rememberUnknown(hash: string): void {
    touch(this.#unknown, hash, this.#now() + this.#limits.unknownTtlMs);
    while (this.#unknown.size > this.#limits.unknownKeys) {
      this.#unknown.delete(this.#unknown.keys().next().value!);
    }
  }

  /** The cache entry for `hash` from its key row (which matched on `hash` or on `previousHash`). */
  #entryOf(key: ActiveKeyRow, hash: string, tenant: TenantEntry | undefined): KeyEntry | undefined {
    const current = key.hash === hash;
    if (!current && (key.previousHash !== hash || key.previousValidUntil === null)) return undefined;
    const limits = this.#options.compileLimits?.(key.limits) ?? null;
    const tenantPolicy = tenant?.policy;
    const policy =
      limits?.models && tenantPolicy ? Object.freeze({ ...tenantPolicy, keyModels: limits.models }) : undefined;
    return {
      id: key.id,
      tenantId: key.tenantId,
      tenant,
      expiresAt: key.expiresAt,
      limits,
      policy,
      graceUntil: current ? null : key.previousValidUntil,
    };
  }

  async #load(): Promise<void> {
    this.#generation++;
    // Requests from now on must not join a lookup that may have read the rows before the write.
    this.#pending.clear();
    this.#pendingTenants.clear();
    this.#unknown.clear();
    this.#unknownTenants.clear();
    const cachedKeys = [...this.#keys];
    const cachedTenants = [...this.#tenants.keys()];
    // The pinned tenants, the hot ones and those of the hot keys (an evicted tenant's keys may still be hot).
    const tenantIds = new Set([...this.#pinnedIds, ...cachedTenants]);
    for (const [, entry] of cachedKeys) tenantIds.add(entry.tenantId);
    const rows = await this.#options.repo.loadTenantsAndKeys(
      [...tenantIds],
      [...new Set(cachedKeys.map(([, entry]) => entry.id))],
    );
    const tenants = new Map<string, TenantEntry>();
    for (const tenant of rows.tenants) tenants.set(tenant.id, this.#tenantEntry(tenant));
    const pinned = new Map<string, TenantEntry>();
    for (const id of this.#pinnedIds) {
      const entry = tenants.get(id);
      if (entry) pinned.set(id, entry);
    }
    // Replaced in place: positions (recency) are kept; a tenant gone from the rows is dropped.
    for (const id of cachedTenants) {
      if (!this.#tenants.has(id)) continue;
      const entry = tenants.get(id);
      if (entry && !pinned.has(id)) this.#tenants.set(id, entry);
      else this.#tenants.delete(id);
    }
    const byId = new Map<string, ActiveKeyRow>();
    for (const row of rows.keys) byId.set(row.id, row);
    // Likewise for keys; a key gone from the rows (revoked), or whose cached secret is neither its current one
    // nor its previous one in grace (rotated again), is dropped.
    for (const [hash, old] of cachedKeys) {
      if (!this.#keys.has(hash)) continue;
      const row = byId.get(old.id);
      const entry = row ? this.#entryOf(row, hash, tenants.get(row.tenantId)) : undefined;
      if (entry) this.#keys.set(hash, entry);
      else this.#keys.delete(hash);
    }
    this.#pinned = pinned;
    this.#version = rows.version;
    this.#unknown.clear();
    this.#unknownTenants.clear();
    this.#reloads++;
  }
}
