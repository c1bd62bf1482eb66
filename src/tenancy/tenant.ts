import type { Selectable } from 'kysely';
import { isPreset, type Preset, TIERS, type Tier } from '../core/tiers.ts';
import type { KeyLimits } from '../limits/key-limits.ts';
import type { ApiKeyTable, TenantTable } from '../store/tenancy-tables.ts';
import { BYOK_TENANT_PREFIX } from './byok-identity.ts';

/** A tenant as the rest of the code sees it (rows are converted at the repository's edge). */
export interface Tenant {
  id: string;
  name: string;
  /** null: the operator's routing.defaultPreset. */
  preset: Preset | null;
  tierModels: Partial<Record<Tier, string>>;
  /** Catalog ids or names the tenant may call by name; null: any. */
  allowedModels: string[] | null;
  /** Channel groups the tenant is in (docs/channels.md): a channel restricted to groups serves only their members. */
  groups: string[];
  /** Set for bring-your-own-key tenants. */
  byokProvider: string | null;
  linksValidAfter: number;
  /** Set while an admin has suspended the tenant (docs/billing.md): its keys get 403 on every /v1 route. */
  suspendedAt?: number | null;
  suspendedReason?: string | null;
  createdAt: number;
  updatedAt: number;
}

export type { KeyLimits };

export interface ApiKeyRecord {
  id: string;
  tenantId: string;
  name: string;
  prefix: string;
  createdAt: number;
  revokedAt: number | null;
  expiresAt: number | null;
  lastUsedAt: number | null;
  /** Rates, quota, address and model lists, scopes (src/limits/key-limits.ts); null: not limited. */
  limits: KeyLimits | null;
  /** After a rotation: the replaced secret keeps working until then (ms); null when none does. */
  previousValidUntil: number | null;
}

export const DEFAULT_TENANT_ID = 'default';

/** Operator-chosen tenant ids: lowercase slugs; BYOK_TENANT_PREFIX is reserved for derived ids. */
const TENANT_ID = /^[a-z0-9][a-z0-9_-]{0,62}$/;

export function tenantIdProblem(id: string): string | undefined {
  if (!TENANT_ID.test(id)) return 'use 1-63 lowercase letters, digits, - or _, starting with a letter or digit';
  if (id.startsWith(BYOK_TENANT_PREFIX))
    return `the prefix '${BYOK_TENANT_PREFIX}' is reserved for bring-your-own-key tenants`;
  return undefined;
}

export function tenantFromRow(row: Selectable<TenantTable>): Tenant {
  const tierModels: Partial<Record<Tier, string>> = {};
  for (const tier of TIERS) {
    const value = row[`${tier}_model`];
    if (value) tierModels[tier] = value;
  }
  return {
    id: row.id,
    name: row.name,
    preset: row.preset && isPreset(row.preset) ? row.preset : null,
    tierModels,
    allowedModels: parseJsonArray(row.allowed_models),
    groups: parseJsonArray(row.groups ?? null) ?? [],
    byokProvider: row.byok_provider,
    linksValidAfter: Number(row.links_valid_after),
    suspendedAt: row.suspended_at == null ? null : Number(row.suspended_at),
    suspendedReason: row.suspended_reason ?? null,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

export function keyFromRow(row: Omit<Selectable<ApiKeyTable>, 'hash' | 'previous_hash'>): ApiKeyRecord {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    name: row.name,
    prefix: row.prefix,
    createdAt: Number(row.created_at),
    revokedAt: nullableNumber(row.revoked_at),
    expiresAt: nullableNumber(row.expires_at),
    lastUsedAt: nullableNumber(row.last_used_at),
    limits: row.limits ? (JSON.parse(row.limits) as KeyLimits) : null,
    previousValidUntil: nullableNumber(row.previous_valid_until),
  };
}

function nullableNumber(v: number | null): number | null {
  return v === null ? null : Number(v);
}

function parseJsonArray(text: string | null): string[] | null {
  if (text === null) return null;
  const value: unknown = JSON.parse(text);
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : null;
}
