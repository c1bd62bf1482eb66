import type { CatalogModel } from '../billing/catalog-types.ts';
import { type Preset, TIERS, type Tier } from '../core/tiers.ts';
import type { RoutingPolicy } from '../router/router.ts';
import { operatorProviders, policyOf } from '../tenancy/policy.ts';
import type { Tenant } from '../tenancy/tenant.ts';
import type { DashboardDeps } from './deps.ts';

/** How a tenant's requests route now, as the pages show it: its policy and preset, each tier's first model. */
export function tenantRouting(deps: DashboardDeps, tenant: Tenant): { policy: RoutingPolicy; preset: Preset } {
  return {
    policy: policyOf(tenant, deps.catalog, operatorProviders(deps.catalog)),
    preset: tenant.preset ?? deps.config.routing.defaultPreset,
  };
}

/** The policy of the operator's own callers: only the providers the operator holds keys for. */
export function operatorPolicy(deps: DashboardDeps): RoutingPolicy {
  const operatorOnly = operatorProviders(deps.catalog);
  return operatorOnly ? { providers: operatorOnly } : {};
}

/** The model each tier routes to first under this preset and policy (undefined: none can serve it). */
export function firstModelPerTier(
  deps: DashboardDeps,
  preset: Preset,
  policy: RoutingPolicy,
): Record<Tier, CatalogModel | undefined> {
  return Object.fromEntries(TIERS.map((tier) => [tier, deps.router.listFor(preset, tier, policy)[0]])) as Record<
    Tier,
    CatalogModel | undefined
  >;
}
