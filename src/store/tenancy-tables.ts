/**
 * Tenancy tables as Kysely sees them (migration 0002_tenancy). Times are integer ms since the epoch;
 * JSON columns are text, so both dialects store them alike.
 */

export interface TenantTable {
  /** `default`, an operator-chosen slug, or `byok_…` (derived from the HMAC of a provider key). */
  id: string;
  name: string;
  /** cheapest | balanced | quality; null follows routing.defaultPreset. */
  preset: string | null;
  utility_model: string | null;
  fast_model: string | null;
  deep_model: string | null;
  /** JSON array of catalog ids or names the tenant may call by name; null: any. */
  allowed_models: string | null;
  /** JSON array of the tenant's groups (channel groups, migration 0007); null: none. */
  groups: string | null;
  /** Bring-your-own-key tenants: the provider the key belongs to, and HMAC-SHA256(secret, key) in hex. */
  byok_provider: string | null;
  key_hmac: string | null;
  /** Dashboard links issued (and sessions opened) before this instant are refused. */
  links_valid_after: number;
  /** Set while the tenant is suspended by an admin (migration 0009): its keys are refused. */
  suspended_at?: number | null;
  suspended_reason?: string | null;
  created_at: number;
  updated_at: number;
}

export interface ApiKeyTable {
  id: string;
  tenant_id: string;
  name: string;
  /** The first characters of the key, shown in lists so people can tell keys apart. */
  prefix: string;
  /** SHA-256 of the whole key, hex. */
  hash: string;
  created_at: number;
  revoked_at: number | null;
  expires_at: number | null;
  /** Written in batches from memory (never per request); may lag by the flush interval. */
  last_used_at: number | null;
  /**
   * JSON KeyLimits (src/limits/key-limits.ts, docs/limits.md), e.g.
   * `{"rpm":600,"quota":{"nanoUsd":50000000000,"period":"monthly"},"ips":["10.0.0.0/8"],"models":["openai/gpt-4o-mini"]}`.
   */
  limits: string | null;
  /** SHA-256 of the secret a rotation replaced (migration 0003), valid until previous_valid_until. */
  previous_hash: string | null;
  previous_valid_until: number | null;
}

export interface AdminUserTable {
  id: string;
  username: string;
  /** `scrypt$N$r$p$salt$hash` (base64url), node:crypto scrypt. */
  password_hash: string;
  created_at: number;
  last_login_at: number | null;
}

export interface SessionTable {
  /** SHA-256 of the cookie value, hex: a database leak does not hand out live sessions. */
  id: string;
  /** `console`: a self-service account signed in with its password (docs/accounts.md). */
  kind: 'client' | 'admin' | 'console';
  tenant_id: string | null;
  admin_user_id: string | null;
  /** Per-session CSRF token, echoed in forms. */
  csrf: string;
  created_at: number;
  expires_at: number;
}

/** One row (id = 1): bumped with every settings write so every node's cache knows to reload. */
export interface TenancySettingsTable {
  id: number;
  version: number;
}
