import type { CompiledLimits, KeyLimits } from '../limits/key-limits.ts';
import type { RoutingPolicy } from '../router/router.ts';
import type { SettingsChangeFeed } from './change-feed.ts';
import type { ActiveKeyRow, TenancyRepository } from './repository.ts';
import type { Tenant } from './tenant.ts';

/**
 * The request path's view of tenancy: every tenant with its routing policy in memory, and the managed keys
 * in use (hot keys) in a bounded cache, filled on first use.
 *
 * Keys: a key seen for the first time is read by one indexed query (TenancyRepository.findActiveKey);
 * concurrent first requests of the same key share that query. Up to `keys` entries are kept, least recently
 * used evicted first; an evicted key is simply looked up again. Keys the database does not know (or knows
 * revoked) are remembered as unknown for `unknownTtlMs`, up to `unknownKeys` of them, so a client retrying a
 * bad key, or a flood of made-up keys, costs at most one query per key per TTL. Startup reads no keys.
 *
 * Invalidation: each settings write bumps a version row in the same transaction. The node that wrote
 * reloads at once (`afterWrite`), other nodes notice through the change feed (Redis pub/sub, the version poll
 * underneath) and reload. A reload re-reads the tenants and the rows of the cached keys only (by key id, in
 * chunks on the primary key, bounded by the cache size), forgets every unknown key, and swaps the result in
 * at once, so a revocation, rotation or limit edit applies as fast as before. A lookup that overlapped a
 * reload is answered but not cached (it may have read the row before the write).
 */
export interface KeyCacheOptions {
  /** Most managed keys kept in memory (about 1.4 KB each with limits). */
  keys: number;
  /** Most unknown keys remembered. */
  unknownKeys: number;
  /** How long an unknown key is remembered (ms); a reload forgets them all at once anyway. */
  unknownTtlMs: number;
}

export const DEFAULT_KEY_CACHE: KeyCacheOptions = { keys: 10_000, unknownKeys: 10_000, unknownTtlMs: 5_000 };

export interface KeyCacheStats {
  /** Managed keys in memory (a rotated key's two secrets count as two). */
  keys: number;
  /** Unknown keys remembered. */
  unknown: number;
  /** Lookups that went to the database. */
  lookups: number;
  /** Keys evicted to stay within the bound. */
  evictions: number;
}

export interface TenantEntry {
  tenant: Tenant;
  /** Frozen, shared by every request of the tenant. */
  policy: RoutingPolicy;
}

export interface KeyEntry {
  id: string;
  tenantId: string;
  expiresAt: number | null;
  /** The key's limits, compiled; null: not limited. */
  limits: CompiledLimits | null;
  /** The tenant's policy narrowed to the key's model list; undefined: the tenant's own. */
  policy: RoutingPolicy | undefined;
  /** Set on the entry of a rotated key's replaced secret: it stops working then (ms). */
  graceUntil: number | null;
}

interface Snapshot {
  version: number;
  tenants: Map<string, TenantEntry>;
}

export interface DirectoryOptions {
  repo: TenancyRepository;
  feed: SettingsChangeFeed;
  policyOf(tenant: Tenant): RoutingPolicy;
  /** Stored key limits → what the request path checks (default: keys are not limited). */
  compileLimits?(limits: KeyLimits | null): CompiledLimits | null;
  /** Bounds of the key cache (default DEFAULT_KEY_CACHE; tenancy.cache in the configuration). */
  keyCache?: Partial<KeyCacheOptions>;
  now?: () => number;
  onError(err: unknown): void;
}

export class TenantDirectory {
  readonly #options: DirectoryOptions;
  readonly #limits: KeyCacheOptions;
  readonly #now: () => number;
  #snapshot: Snapshot = { version: -1, tenants: new Map() };
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

  constructor(options: DirectoryOptions) {
    this.#options = options;
    this.#limits = { ...DEFAULT_KEY_CACHE, ...options.keyCache };
    this.#now = options.now ?? Date.now;
  }

  /** Loads the tenants (no keys), then follows the feed. */
  async start(): Promise<void> {
    await this.reload();
    this.#options.feed.subscribe((version) => {
      if (version !== undefined && version === this.#snapshot.version) return;
      this.reload().catch(this.#options.onError);
    });
  }

  get version(): number {
    return this.#snapshot.version;
  }

  /** How many times the snapshot was loaded (tests watch it to know a reload happened). */
  get reloads(): number {
    return this.#reloads;
  }

  get keyCacheStats(): KeyCacheStats {
    return { keys: this.#keys.size, unknown: this.#unknown.size, lookups: this.#lookups, evictions: this.#evictions };
  }

  tenant(id: string): TenantEntry | undefined {
    return this.#snapshot.tenants.get(id);
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
      this.#keys.delete(hash);
      this.#keys.set(hash, hot);
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

  tenants(): IterableIterator<TenantEntry> {
    return this.#snapshot.tenants.values();
  }

  /** After a write on this node: reload now, then tell the other nodes. */
  async afterWrite(): Promise<void> {
    await this.reload();
    await this.#options.feed.publish(this.#snapshot.version);
  }

  /**
   * Reloads the snapshot. Calls during a running reload share one follow-up reload that starts after it,
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

  async #lookup(hash: string): Promise<KeyEntry | undefined> {
    const generation = this.#generation;
    this.#lookups++;
    const row = await this.#options.repo.findActiveKey(hash);
    const entry = row ? this.#entryOf(row, hash, this.#snapshot.tenants) : undefined;
    // A reload started (or was running) meanwhile: the row may predate the write it applies. Answer, don't keep.
    if (generation === this.#generation && !this.#running) {
      if (entry) this.#remember(hash, entry);
      else this.#rememberUnknown(hash);
    }
    return entry;
  }

  #remember(hash: string, entry: KeyEntry): void {
    this.#keys.delete(hash);
    this.#keys.set(hash, entry);
    while (this.#keys.size > this.#limits.keys) {
      const oldest = this.#keys.keys().next().value!;
      this.#keys.delete(oldest);
      this.#evictions++;
    }
  }

  #rememberUnknown(hash: string): void {
    this.#unknown.delete(hash);
    this.#unknown.set(hash, this.#now() + this.#limits.unknownTtlMs);
    while (this.#unknown.size > this.#limits.unknownKeys) {
      this.#unknown.delete(this.#unknown.keys().next().value!);
    }
  }

  /** The cache entry for `hash` from its key row (which matched on `hash` or on `previousHash`). */
  #entryOf(key: ActiveKeyRow, hash: string, tenants: Map<string, TenantEntry>): KeyEntry | undefined {
    const current = key.hash === hash;
    if (!current && (key.previousHash !== hash || key.previousValidUntil === null)) return undefined;
    const limits = this.#options.compileLimits?.(key.limits) ?? null;
    const tenantPolicy = tenants.get(key.tenantId)?.policy;
    const policy =
      limits?.models && tenantPolicy ? Object.freeze({ ...tenantPolicy, keyModels: limits.models }) : undefined;
    return {
      id: key.id,
      tenantId: key.tenantId,
      expiresAt: key.expiresAt,
      limits,
      policy,
      graceUntil: current ? null : key.previousValidUntil,
    };
  }

  async #load(): Promise<void> {
    this.#generation++;
    // Requests from now on must not join a lookup that may have read the row before the write.
    this.#pending.clear();
    this.#unknown.clear();
    const cached = [...this.#keys];
    const rows = await this.#options.repo.loadTenantsAndKeys([...new Set(cached.map(([, entry]) => entry.id))]);
    const tenants = new Map<string, TenantEntry>();
    for (const tenant of rows.tenants) {
      tenants.set(tenant.id, { tenant, policy: Object.freeze(this.#options.policyOf(tenant)) });
    }
    const byId = new Map<string, ActiveKeyRow>();
    for (const row of rows.keys) byId.set(row.id, row);
    // Replaced in place: positions (recency) are kept; a key gone from the rows (revoked), or whose cached
    // secret is neither its current one nor its previous one in grace (rotated again), is dropped.
    for (const [hash, old] of cached) {
      if (!this.#keys.has(hash)) continue;
      const row = byId.get(old.id);
      const entry = row ? this.#entryOf(row, hash, tenants) : undefined;
      if (entry) this.#keys.set(hash, entry);
      else this.#keys.delete(hash);
    }
    this.#snapshot = { version: rows.version, tenants };
    this.#unknown.clear();
    this.#reloads++;
  }
}
