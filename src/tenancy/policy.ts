import { z } from 'zod';
import { type CatalogModel, isChatModel } from '../billing/catalog-types.ts';
import { type Catalog, resolveModelRef } from '../catalog/catalog.ts';
import { groupName } from '../config/schema.ts';
import { GatewayError } from '../core/errors.ts';
import { TIERS, type Tier, toPreset } from '../core/tiers.ts';
import type { RoutingPolicy } from '../router/router.ts';
import { providerForHint } from './byok-detect.ts';
import type { PolicyPatch } from './repository.ts';
import type { Tenant } from './tenant.ts';

/**
 * Tenant settings → the router's RoutingPolicy, and validation of settings changes against the catalog.
 */

/**
 * Providers the operator holds keys for. Only set when some provider has none (it serves bring-your-own-key
 * callers only): then managed and configured-key callers must be kept off it.
 */
export function operatorProviders(catalog: Catalog): string[] | undefined {
  const all = [...catalog.providers.values()];
  if (all.every((p) => p.keys.length > 0)) return undefined;
  return all.filter((p) => p.keys.length > 0).map((p) => p.id);
}

export function policyOf(tenant: Tenant, catalog: Catalog, operatorOnly: string[] | undefined): RoutingPolicy {
  const policy: RoutingPolicy = {};
  if (tenant.preset) policy.preset = tenant.preset;
  if (Object.keys(tenant.tierModels).length > 0) policy.tierModels = { ...tenant.tierModels };
  if (tenant.allowedModels) policy.allowedModels = [...tenant.allowedModels];
  if (tenant.groups.length > 0) policy.groups = [...tenant.groups];
  if (tenant.byokProvider) {
    const provider = providerForHint(tenant.byokProvider, catalog.providers);
    policy.providers = provider ? [provider.id] : [];
  } else if (operatorOnly) {
    policy.providers = operatorOnly;
  }
  return policy;
}

/** Chat models a tenant with this policy may route to, so may choose for a tier (embedding models serve no tier). */
export function modelsTenantMayUse(catalog: Catalog, policy: RoutingPolicy): CatalogModel[] {
  return catalog.models.filter(
    (m) =>
      isChatModel(m) &&
      (!policy.providers || policy.providers.includes(m.provider)) &&
      (!policy.allowedModels || policy.allowedModels.includes(m.id) || policy.allowedModels.includes(m.name)),
  );
}

export interface SettingsInput {
  /** A preset name, or '' / 'default' for the operator's default. */
  preset?: unknown;
  /** Per tier: a catalog id the tenant may use, or '' for the preset's own choice. */
  tierModels?: Partial<Record<Tier, unknown>>;
  /** Admin only: catalog ids or names, or null for any. */
  allowedModels?: unknown;
  /** Admin only: the tenant's channel groups, or null (or []) for none. */
  groups?: unknown;
}

/**
 * Validates a settings change; returns the patch to store or throws invalid_request naming the field.
 * `policy` is the tenant's current policy (it bounds the models a tier may be set to).
 */
export function validateSettings(catalog: Catalog, policy: RoutingPolicy, input: SettingsInput): PolicyPatch {
  const patch: PolicyPatch = {};
  if (input.preset !== undefined) {
    if (input.preset === '' || input.preset === 'default' || input.preset === null) patch.preset = null;
    else if (typeof input.preset === 'string' && toPreset(input.preset)) patch.preset = toPreset(input.preset)!;
    else
      throw new GatewayError(
        'invalid_request',
        'preset must be cheapest, balanced, quality (highest-quality) or default',
        {
          param: 'preset',
        },
      );
  }
  let allowed = policy.allowedModels;
  if (input.allowedModels !== undefined) {
    if (input.allowedModels === null) {
      patch.allowedModels = null;
      allowed = undefined;
    } else {
      if (!Array.isArray(input.allowedModels) || !input.allowedModels.every((m) => typeof m === 'string')) {
        throw new GatewayError('invalid_request', 'allowedModels must be a list of model ids, or null', {
          param: 'allowedModels',
        });
      }
      const unknown = input.allowedModels.filter((ref) => resolveModelRef(catalog, ref).length === 0);
      if (unknown.length > 0) {
        throw new GatewayError('invalid_request', `Unknown models in allowedModels: ${unknown.join(', ')}`, {
          param: 'allowedModels',
        });
      }
      patch.allowedModels = [...new Set(input.allowedModels)];
      allowed = patch.allowedModels;
    }
  }
  if (input.groups !== undefined) {
    if (input.groups === null) patch.groups = null;
    else {
      const parsed = z.array(groupName).max(50).safeParse(input.groups);
      if (!parsed.success) {
        throw new GatewayError(
          'invalid_request',
          `groups must be a list of group names (${parsed.error.issues[0]?.message})`,
          {
            param: 'groups',
          },
        );
      }
      patch.groups = [...new Set(parsed.data)];
    }
  }
  if (input.tierModels) {
    const usable = new Set(
      modelsTenantMayUse(catalog, { ...policy, allowedModels: allowed ?? undefined }).map((m) => m.id),
    );
    patch.tierModels = {};
    for (const tier of TIERS) {
      const value = input.tierModels[tier];
      if (value === undefined) continue;
      if (value === '' || value === null) {
        patch.tierModels[tier] = null;
        continue;
      }
      if (typeof value !== 'string' || !usable.has(value)) {
        throw new GatewayError('invalid_request', `${tier}: '${String(value)}' is not a model this tenant may use`, {
          param: `tierModels.${tier}`,
        });
      }
      patch.tierModels[tier] = value;
    }
    for (const key of Object.keys(input.tierModels)) {
      if (!(TIERS as readonly string[]).includes(key)) {
        throw new GatewayError('invalid_request', `Unknown tier '${key}'; use utility, fast or deep`, {
          param: 'tierModels',
        });
      }
    }
  }
  return patch;
}
