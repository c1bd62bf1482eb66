import type { Catalog } from '../catalog/catalog.ts';
import type { Config } from '../config/schema.ts';
import { compileLimits } from '../limits/key-limits.ts';
import type { Logger } from '../ops/logger.ts';
import type { Store } from '../store/db.ts';
import { bootstrapAdmin } from './admin-bootstrap.ts';
import { AdminUsers } from './admin-users.ts';
import { TenancyAuthenticator } from './authenticator.ts';
import { PollingChangeFeed, type SettingsChangeFeed } from './change-feed.ts';
import { DashboardLinks } from './dashboard-links.ts';
import { TenantDirectory } from './directory.ts';
import { LastUsed } from './last-used.ts';
import { operatorProviders, policyOf } from './policy.ts';
import { TenancyRepository } from './repository.ts';
import { loadServerSecret, type ServerSecret } from './secret.ts';
import { SessionStore } from './sessions.ts';
import { DEFAULT_TENANT_ID } from './tenant.ts';

/**
 * Tenancy, assembled: storage, the in-memory directory (hot tenants and keys) and its invalidation, the authenticator, signed
 * links, sessions and admin users. The runtime builds one at start and closes it at shutdown.
 */
export interface Tenancy {
  auth: TenancyAuthenticator;
  repo: TenancyRepository;
  directory: TenantDirectory;
  links: DashboardLinks;
  sessions: SessionStore;
  admins: AdminUsers;
  secret: ServerSecret;
  config: Config['tenancy'];
  /** Set when this start created the first admin: the file holding its generated password. */
  adminPasswordFile: string | undefined;
  /** Called once the server listens: links point here unless server.publicUrl is set. */
  setBaseUrl(url: string): void;
  /**
   * The catalog's providers changed (channels): the list of providers the operator holds keys for, which every
   * managed caller's policy shares by reference, is brought up to date in place.
   */
  refreshOperatorProviders(): void;
  /** Stops the poll and writes pending last-used times. */
  close(): Promise<void>;
}

export interface TenancyOptions {
  config: Config;
  store: Store;
  catalog: Catalog;
  logger: Logger;
  dataDir: string;
  configKeys: ReadonlyArray<{ id?: string | undefined; key: string }>;
  /** Replaces the database poll (tests). */
  feed?: SettingsChangeFeed;
  /** Wraps the database poll (a Redis channel on top of it, the poll kept as fallback). */
  wrapFeed?: (poll: SettingsChangeFeed) => SettingsChangeFeed;
  /** How often last-used times are written. */
  lastUsedFlushMs?: number;
}

export async function createTenancy(options: TenancyOptions): Promise<Tenancy> {
  const { config, store, catalog, logger, dataDir } = options;
  const settings = config.tenancy;
  const secret = loadServerSecret(settings.secret, dataDir);
  if (secret.source === 'generated') {
    logger.info({ file: `${dataDir}/tenancy-secret` }, 'generated the tenancy server secret (kept with mode 0600)');
  }
  if (secret.source !== 'config' && config.storage.kind === 'postgres') {
    logger.warn(
      'tenancy.secret is not configured: every node sharing this database needs the same secret, or BYOK tenant ids and dashboard links differ between nodes',
    );
  }
  const repo = new TenancyRepository(store.db);
  const operatorOnly = operatorProviders(catalog);
  const onError = (err: unknown) =>
    logger.error({ err }, 'tenancy settings reload failed (the previous settings stay in use)');
  const poll = new PollingChangeFeed(repo, settings.cache.pollMs, onError);
  const feed = options.feed ?? options.wrapFeed?.(poll) ?? poll;
  const directory = new TenantDirectory({
    repo,
    feed,
    policyOf: (tenant) => policyOf(tenant, catalog, operatorOnly),
    compileLimits: (limits) => compileLimits(catalog, limits),
    keyCache: {
      keys: settings.cache.keys,
      tenants: settings.cache.tenants,
      unknownKeys: settings.cache.unknownKeys,
      unknownTtlMs: settings.cache.unknownTtlMs,
    },
    pinnedTenants: [DEFAULT_TENANT_ID],
    onError,
  });
  await repo.ensureTenant(DEFAULT_TENANT_ID, 'Default');
  await directory.start();

  const links = new DashboardLinks({
    key: secret.keys.dashboardLink,
    ttlMs: settings.dashboard.linkTtlMs,
    refreshMs: settings.dashboard.linkRefreshMs,
  });
  if (config.server.publicUrl) links.setBaseUrl(config.server.publicUrl);

  const admins = new AdminUsers(store.db);
  const adminPasswordFile = await bootstrapAdmin({
    admins,
    username: settings.admin.username,
    password: settings.admin.password,
    dataDir,
    logger,
  });

  const lastUsed = new LastUsed();
  const auth = new TenancyAuthenticator({
    directory,
    repo,
    links,
    lastUsed,
    catalog,
    logger,
    byokKey: secret.keys.byokTenant,
    configKeys: options.configKeys,
    managedKeys: settings.managedKeys.enabled,
    byok: settings.byok.enabled,
    fallbackPolicy: operatorOnly ? { providers: operatorOnly } : {},
  });
  const sessions = new SessionStore(store.db);

  const flushLastUsed = async () => {
    const batch = lastUsed.take();
    try {
      await repo.touchKeys(batch);
    } catch (err) {
      lastUsed.restore(batch);
      throw err;
    }
  };
  const housekeeping = setInterval(() => {
    flushLastUsed().catch((err: unknown) =>
      logger.warn({ err }, 'writing keys’ last-used times failed (kept for the next try)'),
    );
    sessions.prune().catch((err: unknown) => logger.warn({ err }, 'pruning expired dashboard sessions failed'));
  }, options.lastUsedFlushMs ?? 60_000);
  housekeeping.unref();

  return {
    auth,
    repo,
    directory,
    links,
    sessions,
    admins,
    secret,
    config: settings,
    adminPasswordFile,
    refreshOperatorProviders() {
      if (operatorOnly) operatorOnly.splice(0, operatorOnly.length, ...(operatorProviders(catalog) ?? []));
    },
    setBaseUrl(url) {
      if (!config.server.publicUrl) links.setBaseUrl(url);
    },
    async close() {
      clearInterval(housekeeping);
      directory.close();
      await flushLastUsed().catch((err: unknown) => logger.warn({ err }, 'writing keys’ last-used times failed'));
    },
  };
}
