import type { Catalog } from '../catalog/catalog.ts';
import { GatewayError } from '../core/errors.ts';
import { validateKeyLimits } from '../limits/key-limits.ts';
import type { TenantDirectory } from './directory.ts';
import { operatorProviders, policyOf, type SettingsInput, validateSettings } from './policy.ts';
import type { TenancyRepository } from './repository.ts';
import { type ApiKeyRecord, type Tenant, tenantIdProblem } from './tenant.ts';

/**
 * Management operations shared by the admin pages, the admin JSON API and the CLI: validate, write (which
 * bumps the settings version), then refresh this node's cache when there is one. Other nodes, and a server
 * running next to the CLI, pick the change up through their change feed.
 */
export interface AdminOps {
  repo: TenancyRepository;
  catalog: Catalog;
  directory?: TenantDirectory | undefined;
}

const DAY_MS = 86_400_000;

async function refreshed<T>(ops: AdminOps, value: T): Promise<T> {
  await ops.directory?.afterWrite();
  return value;
}

export async function createTenant(
  ops: AdminOps,
  input: { id: unknown; name?: unknown } & SettingsInput,
): Promise<Tenant> {
  if (typeof input.id !== 'string') throw new GatewayError('invalid_request', 'id is required', { param: 'id' });
  const problem = tenantIdProblem(input.id);
  if (problem)
    throw new GatewayError('invalid_request', `Invalid tenant id '${input.id}': ${problem}`, { param: 'id' });
  const blank: Tenant = {
    id: input.id,
    name: input.id,
    preset: null,
    tierModels: {},
    allowedModels: null,
    groups: [],
    byokProvider: null,
    linksValidAfter: 0,
    createdAt: 0,
    updatedAt: 0,
  };
  const patch = validateSettings(ops.catalog, policyOf(blank, ops.catalog, operatorProviders(ops.catalog)), input);
  const tenant = await ops.repo.createTenant({
    id: input.id,
    name: typeof input.name === 'string' ? input.name : undefined,
    preset: patch.preset,
    tierModels: patch.tierModels,
    allowedModels: patch.allowedModels,
    groups: patch.groups,
  });
  return refreshed(ops, tenant);
}

export async function updateTenantSettings(
  ops: AdminOps,
  id: string,
  input: SettingsInput & { name?: unknown },
): Promise<Tenant> {
  const tenant = await ops.repo.getTenant(id);
  if (!tenant) throw new GatewayError('not_found', `No tenant '${id}'`);
  const patch = validateSettings(ops.catalog, policyOf(tenant, ops.catalog, operatorProviders(ops.catalog)), input);
  if (typeof input.name === 'string') patch.name = input.name;
  return refreshed(ops, await ops.repo.updateTenant(id, patch));
}

/** Suspends a tenant (a reason of 1 to 500 characters is required) or lifts its suspension. */
export async function setSuspended(
  ops: AdminOps,
  id: string,
  input: { suspended: boolean; reason?: unknown },
): Promise<Tenant> {
  let suspension: { reason: string } | null = null;
  if (input.suspended) {
    const reason = typeof input.reason === 'string' ? input.reason.trim() : '';
    if (reason === '' || reason.length > 500) {
      throw new GatewayError('invalid_request', 'A reason (1 to 500 characters) is required to suspend', {
        param: 'reason',
      });
    }
    suspension = { reason };
  }
  return refreshed(ops, await ops.repo.setSuspended(id, suspension));
}

export async function createKey(
  ops: AdminOps,
  input: { tenantId: unknown; name?: unknown; expiresInDays?: unknown; expiresAt?: unknown; limits?: unknown },
): Promise<{ record: ApiKeyRecord; key: string }> {
  if (typeof input.tenantId !== 'string' || input.tenantId === '') {
    throw new GatewayError('invalid_request', 'tenantId is required', { param: 'tenantId' });
  }
  const tenant = await ops.repo.getTenant(input.tenantId);
  if (!tenant) throw new GatewayError('not_found', `No tenant '${input.tenantId}'`);
  if (tenant.byokProvider) {
    throw new GatewayError(
      'invalid_request',
      'Bring-your-own-key tenants use their own provider key, not managed keys',
      {
        param: 'tenantId',
      },
    );
  }
  const expiresAt = expiryOf(input);
  const limits = validateKeyLimits(ops.catalog, input.limits);
  const created = await ops.repo.createKey({
    tenantId: input.tenantId,
    name: typeof input.name === 'string' ? input.name.slice(0, 100) : undefined,
    expiresAt,
    limits,
  });
  return refreshed(ops, created);
}

/** Replaces a key's limits (null or {} removes them), validated like at creation. */
export async function setKeyLimits(ops: AdminOps, id: string, limits: unknown): Promise<ApiKeyRecord> {
  return refreshed(ops, await ops.repo.setKeyLimits(id, validateKeyLimits(ops.catalog, limits)));
}

/** How long a rotated key's previous secret keeps working unless told otherwise. */
export const DEFAULT_ROTATION_GRACE_HOURS = 24;
const MAX_GRACE_HOURS = 24 * 30;

/**
 * A new secret for a key; the previous one works for `graceHours` more (default 24, 0: stops at once, at
 * most 30 days). Returns the new secret, shown once.
 */
export async function rotateKey(
  ops: AdminOps,
  id: string,
  graceHours: unknown = undefined,
): Promise<{ record: ApiKeyRecord; key: string }> {
  let hours = DEFAULT_ROTATION_GRACE_HOURS;
  if (graceHours !== undefined && graceHours !== null && graceHours !== '') {
    const n = typeof graceHours === 'string' ? Number(graceHours) : graceHours;
    if (typeof n !== 'number' || !Number.isFinite(n) || n < 0 || n > MAX_GRACE_HOURS) {
      throw new GatewayError('invalid_request', `graceHours must be a number from 0 to ${MAX_GRACE_HOURS}`, {
        param: 'graceHours',
      });
    }
    hours = n;
  }
  return refreshed(ops, await ops.repo.rotateKey(id, Math.round(hours * 3_600_000)));
}

function expiryOf(input: { expiresInDays?: unknown; expiresAt?: unknown }): number | null {
  const days = input.expiresInDays;
  if (days !== undefined && days !== null && days !== '') {
    const n = Number(days);
    if (!Number.isFinite(n) || n <= 0 || n > 3650) {
      throw new GatewayError('invalid_request', 'expiresInDays must be between 1 and 3650', { param: 'expiresInDays' });
    }
    return Date.now() + Math.round(n * DAY_MS);
  }
  const at = input.expiresAt;
  if (at === undefined || at === null || at === '') return null;
  const ms = typeof at === 'number' ? at : Date.parse(String(at));
  if (!Number.isFinite(ms) || ms <= Date.now()) {
    throw new GatewayError('invalid_request', 'expiresAt must be a time in the future (ms or ISO 8601)', {
      param: 'expiresAt',
    });
  }
  return ms;
}

export async function revokeKey(ops: AdminOps, id: string): Promise<ApiKeyRecord> {
  return refreshed(ops, await ops.repo.revokeKey(id));
}

export async function revokeLinks(ops: AdminOps, tenantId: string): Promise<number> {
  return refreshed(ops, await ops.repo.revokeDashboardLinks(tenantId));
}

/** Lines of a textarea (admin page) → a list, or null when empty. */
export function linesToList(text: string | undefined): string[] | null {
  const list = (text ?? '')
    .split(/[\n,]/)
    .map((s) => s.trim())
    .filter(Boolean);
  return list.length > 0 ? list : null;
}
