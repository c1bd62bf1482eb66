import type { Catalog } from '../catalog/catalog.ts';
import { GatewayError } from '../core/errors.ts';
import { clipped } from '../core/validation.ts';
import type { Logger } from '../ops/logger.ts';
import type { Authenticator } from '../pipeline/authenticate.ts';
import type { Caller } from '../pipeline/context.ts';
import { providerKey } from '../providers/provider-key.ts';
import type { RoutingPolicy } from '../router/router.ts';
import { bearerToken, sha256Hex } from './auth.ts';
import { detectProviderHint, PROVIDER_HEADER, providerForHint } from './byok-detect.ts';
import { byokHmac, byokTenantId } from './byok-identity.ts';
import { DASHBOARD_HEADER, type DashboardLinks } from './dashboard-links.ts';
import type { KeyEntry, TenantDirectory, TenantEntry } from './directory.ts';
import type { LastUsed } from './last-used.ts';
import { looksLikeManagedKey } from './managed-keys.ts';
import type { TenancyRepository } from './repository.ts';
import { DEFAULT_TENANT_ID } from './tenant.ts';

type Headers = Readonly<Record<string, string | string[] | undefined>>;

export interface TenancyAuthenticatorOptions {
  directory: TenantDirectory;
  repo: TenancyRepository;
  links: DashboardLinks;
  lastUsed: LastUsed;
  catalog: Catalog;
  logger: Logger;
  byokKey: Buffer;
  /** Gateway keys from the configuration (auth.keys / MODRO_API_KEY): the default tenant's. */
  configKeys: ReadonlyArray<{ id?: string | undefined; key: string }>;
  managedKeys: boolean;
  byok: boolean;
  /** Policy for callers whose tenant the database does not hold yet (a first BYOK call). */
  fallbackPolicy: RoutingPolicy;
  now?: () => number;
}

interface PendingByok {
  hmac: string;
  providerKind: string;
}

/**
 * Who is calling, from memory for configured keys, hot bring-your-own-key tenants and hot managed keys (one
 * SHA-256 or HMAC and two Map reads per request):
 *
 * 1. a gateway key from the configuration → the default tenant;
 * 2. a managed key (`mdro_…`) → its tenant, unless revoked or expired; a key not in the directory's bounded
 *    cache is looked up once by hash (a promise; directory.ts), an unknown one is then remembered briefly;
 * 3. with bring-your-own-key on, a provider key (byok-detect.ts) → the tenant named by its HMAC, routed only
 *    to that provider with the caller's own key; a tenant not in memory is looked up once by id (a promise),
 *    an unknown one is remembered briefly; the tenant row is written after the first success;
 * 4. anything else → authentication_failed.
 */
export class TenancyAuthenticator implements Authenticator {
  readonly #o: TenancyAuthenticatorOptions;
  readonly #configKeys = new Map<string, string>();
  readonly #now: () => number;
  /** Callers on a first BYOK request, until it succeeds; weak so failed requests leave nothing behind. */
  readonly #pending = new WeakMap<Caller, PendingByok>();
  /** Bring-your-own-key tenants being written, by id: their first dashboard link may be opened meanwhile. */
  readonly #provisioning = new Map<string, Promise<void>>();

  constructor(options: TenancyAuthenticatorOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    options.configKeys.forEach((entry, i) => {
      this.#configKeys.set(sha256Hex(entry.key), entry.id ?? `key-${i + 1}`);
    });
  }

  authenticate(headers: Headers): Caller | Promise<Caller> {
    const token = bearerToken(headers);
    if (!token) {
      throw new GatewayError('authentication_failed', 'Missing API key: send it as "Authorization: Bearer <key>"');
    }
    const hash = sha256Hex(token);
    const configKeyId = this.#configKeys.get(hash);
    if (configKeyId !== undefined) {
      // Pinned in the directory: always in memory.
      const tenant = this.#o.directory.cachedTenant(DEFAULT_TENANT_ID);
      this.#refuseSuspended(tenant);
      return { tenantId: DEFAULT_TENANT_ID, keyId: configKeyId, policy: tenant?.policy ?? this.#o.fallbackPolicy };
    }
    if (looksLikeManagedKey(token)) {
      if (!this.#o.managedKeys) throw new GatewayError('authentication_failed', 'Invalid API key');
      const found = this.#o.directory.key(hash);
      if (found instanceof Promise) {
        return found.then(
          (entry) => this.#managedCaller(entry),
          (err: unknown) => this.#lookupFailed(err, { keyHash: hash.slice(0, 16) }, 'looking up a managed key failed'),
        );
      }
      return this.#managedCaller(found);
    }
    if (this.#o.byok) {
      const caller = this.#byokCaller(token, headers);
      if (caller) return caller;
    }
    throw new GatewayError('authentication_failed', 'Invalid API key');
  }

  /** A lookup the database failed: logged (a hash or id, never the key); the client gets a retryable error. */
  #lookupFailed(err: unknown, fields: Record<string, string>, message: string): never {
    this.#o.logger.error({ err, ...fields }, message);
    throw new GatewayError('provider_unavailable', 'The gateway could not check this API key; retry shortly', {
      retryAfter: 1,
    });
  }

  #managedCaller(entry: KeyEntry | undefined): Caller {
    if (!entry) throw new GatewayError('authentication_failed', 'Invalid API key');
    const now = this.#now();
    if (entry.expiresAt !== null && now >= entry.expiresAt) {
      throw new GatewayError('authentication_failed', 'This API key has expired');
    }
    if (entry.graceUntil !== null && now >= entry.graceUntil) {
      throw new GatewayError('authentication_failed', 'This API key was rotated and its grace period has ended');
    }
    this.#refuseSuspended(entry.tenant);
    this.#o.lastUsed.mark(entry.id, now);
    const caller: Caller = {
      tenantId: entry.tenantId,
      keyId: entry.id,
      policy: entry.policy ?? entry.tenant?.policy ?? this.#o.fallbackPolicy,
    };
    if (entry.limits) caller.limits = entry.limits;
    return caller;
  }

  onSuccess(caller: Caller, verified: boolean): Record<string, string> {
    const pending = this.#pending.get(caller);
    if (pending) {
      // A key no provider has accepted yet: nothing is created and no link is issued.
      if (!verified) return {};
      this.#pending.delete(caller);
      this.#provision(caller.tenantId, pending);
    }
    // Also marks the tenant as recently used, so the tenants in use are the ones the cache keeps.
    const tenant = this.#o.directory.tenant(caller.tenantId);
    if (tenant instanceof Promise) {
      // Evicted while its key stayed hot (more tenants in use than tenancy.cache.tenants): read back in the
      // background; meanwhile a link signed now, not cached, is valid whatever the tenant's linksValidAfter
      // (that instant is in the past).
      tenant.catch(() => {});
      return { [DASHBOARD_HEADER]: this.#o.links.issue(caller.tenantId) };
    }
    return { [DASHBOARD_HEADER]: this.#o.links.urlFor(caller.tenantId, tenant?.tenant.linksValidAfter ?? 0) };
  }

  verified(caller: Caller): boolean {
    return !this.#pending.has(caller);
  }

  /** A suspended tenant's keys are refused on every route (docs/billing.md). */
  #refuseSuspended(tenant: TenantEntry | undefined): void {
    if (tenant?.tenant.suspendedAt != null) {
      throw new GatewayError(
        'permission_denied',
        'This account is suspended: its API keys are refused until an operator lifts the suspension',
      );
    }
  }

  #byokCaller(token: string, headers: Headers): Caller | Promise<Caller> | undefined {
    const header = headers[PROVIDER_HEADER];
    const hint = detectProviderHint(token, Array.isArray(header) ? header[0] : header);
    if (!hint) return undefined;
    const provider = providerForHint(hint, this.#o.catalog.providers);
    if (!provider) {
      // The hint may be the caller's own header text: quoted only shortened.
      const kind = clipped(hint);
      throw new GatewayError(
        'authentication_failed',
        `This gateway does not accept ${kind} keys: no ${kind} provider is configured for bring-your-own-key`,
      );
    }
    const hmac = byokHmac(this.#o.byokKey, provider.kind, token);
    const tenantId = byokTenantId(hmac);
    const found = this.#o.directory.tenant(tenantId);
    if (found instanceof Promise) {
      return found.then(
        (entry) => this.#byokCallerOf(tenantId, token, provider.id, provider.kind, hmac, entry),
        (err: unknown) =>
          this.#lookupFailed(err, { tenant: tenantId }, 'looking up a bring-your-own-key tenant failed'),
      );
    }
    return this.#byokCallerOf(tenantId, token, provider.id, provider.kind, hmac, found);
  }

  #byokCallerOf(
    tenantId: string,
    token: string,
    providerId: string,
    providerKind: string,
    hmac: string,
    entry: TenantEntry | undefined,
  ): Caller {
    this.#refuseSuspended(entry);
    const base = entry?.policy ?? this.#o.fallbackPolicy;
    const policy =
      base.providers?.length === 1 && base.providers[0] === providerId ? base : { ...base, providers: [providerId] };
    const caller: Caller = {
      tenantId,
      keyId: null,
      policy,
      // A constant key id: health and metrics labels must not grow with every caller's key.
      ownKey: { provider: providerId, key: providerKey('byok', token) },
    };
    if (!entry) this.#pending.set(caller, { hmac, providerKind });
    return caller;
  }

  /** The first success of a new BYOK key: write its tenant in the background (the response does not wait). */
  /**
   * Resolves once a bring-your-own-key tenant whose first success was just answered is written (at once for
   * any other): its dashboard link went out in that answer and may be opened before the write is done.
   */
  provisioned(tenantId: string): Promise<void> {
    return this.#provisioning.get(tenantId) ?? Promise.resolve();
  }

  #provision(tenantId: string, pending: PendingByok): void {
    if (this.#provisioning.has(tenantId)) return;
    const writing = this.#o.repo
      .ensureByokTenant(tenantId, pending.hmac, pending.providerKind)
      .then(async (created) => {
        if (created)
          this.#o.logger.info({ tenant: tenantId, provider: pending.providerKind }, 'new bring-your-own-key tenant');
        await this.#o.directory.afterWrite();
      })
      .catch((err: unknown) =>
        this.#o.logger.error({ err, tenant: tenantId }, 'creating a bring-your-own-key tenant failed'),
      )
      .finally(() => this.#provisioning.delete(tenantId));
    this.#provisioning.set(tenantId, writing);
  }
}
