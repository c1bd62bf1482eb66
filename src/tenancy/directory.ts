import type { CompiledLimits, KeyLimits } from '../limits/key-limits.ts';
import type { RoutingPolicy } from '../router/router.ts';
import type { SettingsChangeFeed } from './change-feed.ts';
import type { TenancyRepository } from './repository.ts';
import type { Tenant } from './tenant.ts';

/**
 * The request path's view of tenancy: every tenant with its routing policy, and every unrevoked managed
 * key by hash, in memory. Lookups are two Map reads; nothing on the request path queries the database.
 *
 * Invalidation: each settings write bumps a version row in the same transaction. The node that wrote
 * reloads at once (`afterWrite`), other nodes notice through the change feed (a poll of the version today,
 * a Redis channel later) and reload. A reload replaces the whole snapshot atomically, so a request sees
 * either the old settings or the new ones, never a mix.
 */
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
  keys: Map<string, KeyEntry>;
}

export interface DirectoryOptions {
  repo: TenancyRepository;
  feed: SettingsChangeFeed;
  policyOf(tenant: Tenant): RoutingPolicy;
  /** Stored key limits → what the request path checks (default: keys are not limited). */
  compileLimits?(limits: KeyLimits | null): CompiledLimits | null;
  onError(err: unknown): void;
}

export class TenantDirectory {
  readonly #options: DirectoryOptions;
  #snapshot: Snapshot = { version: -1, tenants: new Map(), keys: new Map() };
  #running: Promise<void> | undefined;
  #queued: Promise<void> | undefined;
  #reloads = 0;

  constructor(options: DirectoryOptions) {
    this.#options = options;
  }

  /** Loads everything, then follows the feed. */
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

  tenant(id: string): TenantEntry | undefined {
    return this.#snapshot.tenants.get(id);
  }

  key(hash: string): KeyEntry | undefined {
    return this.#snapshot.keys.get(hash);
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

  async #load(): Promise<void> {
    const rows = await this.#options.repo.loadSnapshot();
    const tenants = new Map<string, TenantEntry>();
    for (const tenant of rows.tenants) {
      tenants.set(tenant.id, { tenant, policy: Object.freeze(this.#options.policyOf(tenant)) });
    }
    const keys = new Map<string, KeyEntry>();
    for (const key of rows.keys) {
      const limits = this.#options.compileLimits?.(key.limits) ?? null;
      const tenantPolicy = tenants.get(key.tenantId)?.policy;
      const policy =
        limits?.models && tenantPolicy ? Object.freeze({ ...tenantPolicy, keyModels: limits.models }) : undefined;
      const entry: KeyEntry = {
        id: key.id,
        tenantId: key.tenantId,
        expiresAt: key.expiresAt,
        limits,
        policy,
        graceUntil: null,
      };
      keys.set(key.hash, entry);
      if (key.previousHash !== null && key.previousValidUntil !== null) {
        keys.set(key.previousHash, { ...entry, graceUntil: key.previousValidUntil });
      }
    }
    this.#snapshot = { version: rows.version, tenants, keys };
    this.#reloads++;
  }
}
