import type { AccountService } from '../accounts/service.ts';
import type { Ledger } from '../billing/ledger.ts';
import type { StripeDeposits } from '../billing/stripe.ts';
import type { Catalog } from '../catalog/catalog.ts';
import type { ModelDiscovery } from '../catalog/discovery.ts';
import type { ChannelService } from '../channels/service.ts';
import type { Config } from '../config/schema.ts';
import type { Logger } from '../ops/logger.ts';
import type { ProviderHealth } from '../pipeline/health.ts';
import type { Router } from '../router/router.ts';
import type { Store } from '../store/db.ts';
import type { AdminOps } from '../tenancy/admin-operations.ts';
import type { Tenancy } from '../tenancy/tenancy.ts';
import type { Webhooks } from '../webhooks/webhooks.ts';
import type { LoginThrottleOptions, SharedAttemptCounts } from './admin/login-throttle.ts';

/**
 * What the dashboards use of the running gateway, and nothing more. The server's Runtime satisfies it as
 * it is, so the server registers the dashboards without the dashboards importing the server.
 */
export interface DashboardDeps {
  config: {
    server: Pick<Config['server'], 'publicUrl'>;
    routing: Pick<Config['routing'], 'defaultPreset'>;
    limits: Pick<Config['limits'], 'maxJsonDepth'>;
    billing: Pick<Config['billing'], 'depositFeeBps'>;
    accounts: Pick<Config['accounts'], 'signup' | 'sessionTtlMs'>;
  };
  /** Self-service accounts (/console, docs/accounts.md). */
  accounts: AccountService;
  /** Balances, plans and manual entries (docs/billing.md). */
  ledger: Pick<
    Ledger,
    'manual' | 'account' | 'view' | 'openAccount' | 'savePlan' | 'assignPlan' | 'plans' | 'planOf' | 'choosePlan'
  >;
  /** Deposits through Stripe Checkout; undefined unless `billing.stripe` is set. */
  stripe: Pick<StripeDeposits, 'checkout' | 'amountOf'> | undefined;
  catalog: Catalog;
  router: Pick<Router, 'listFor'>;
  health: Pick<ProviderHealth, 'snapshot'>;
  store: Pick<Store, 'db'>;
  tenancy: Pick<Tenancy, 'repo' | 'directory' | 'links' | 'sessions' | 'admins' | 'config'> & {
    auth: Pick<Tenancy['auth'], 'provisioned'>;
  };
  logger: Pick<Logger, 'error'>;
  /** With `redis:`: sign-in and mail attempt counts shared by every replica (else each node counts its own). */
  attemptCounts?: SharedAttemptCounts | undefined;
  channels: ChannelService;
  /** Model discovery: a refresh on demand (`POST /admin/api/catalog/refresh`). */
  discovery: Pick<ModelDiscovery, 'refresh'>;
  /** The tenant's webhook deliveries and signing secret (the client's Webhooks page). */
  webhooks: Pick<Webhooks, 'outbox' | 'secrets' | 'deliverer'>;
}

/**
 * The shared counts of one throttle (`scope` keeps the admin login, console logins and console mails apart),
 * or undefined without Redis. While Redis cannot be reached each node's own counts decide, logged at most once
 * a minute.
 */
export function sharedAttempts(deps: DashboardDeps, scope: string): LoginThrottleOptions['shared'] {
  const counts = deps.attemptCounts;
  if (!counts) return undefined;
  let loggedAt = Number.NEGATIVE_INFINITY;
  return {
    counts,
    scope,
    onError: (err) => {
      if (Date.now() - loggedAt < 60_000) return;
      loggedAt = Date.now();
      deps.logger.error(
        { reason: err instanceof Error ? err.message : String(err), scope },
        'Redis unreachable: sign-in attempts are counted by this replica only until it is back',
      );
    },
  };
}

/** What the management operations (shared with the CLI) need, taken from the dashboards' deps. */
export function adminOps(deps: DashboardDeps): AdminOps {
  return { repo: deps.tenancy.repo, catalog: deps.catalog, directory: deps.tenancy.directory };
}
