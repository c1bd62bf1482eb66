import type { BlockList } from 'node:net';
import { type Catalog, resolveModelRef } from '../catalog/catalog.ts';
import { blockListOf, cidrProblems } from '../core/cidr.ts';
import { GatewayError } from '../core/errors.ts';

/**
 * What an API key may do, as stored (the `limits` JSON column of api_key) and as the request path uses it
 * (compiled once per settings reload: a BlockList, a set of catalog ids). docs/limits.md describes them.
 */

/**
 * What an endpoint needs. `read-only` grants the endpoints that answer without generating or changing
 * anything (models, count_tokens, the webhook delivery log); `webhooks` (and `executions`) grant the webhook API,
 * secret included.
 */
export const SCOPES = [
  'chat',
  'messages',
  'embeddings',
  'executions',
  'models',
  'webhooks',
  'files',
  'read-only',
] as const;
export type Scope = (typeof SCOPES)[number];

/** The endpoints admission knows, and the scopes that grant each. */
export type Endpoint =
  | 'chat'
  | 'messages'
  | 'embeddings'
  | 'executions'
  | 'count_tokens'
  | 'models'
  /** Reading the webhook delivery log. */
  | 'webhook_deliveries'
  /** Redelivering, reading or rotating the webhook signing secret. */
  | 'webhooks_manage'
  /** Every /v1/files route. */
  | 'files';
const GRANTED_BY: Readonly<Record<Endpoint, readonly Scope[]>> = {
  chat: ['chat'],
  messages: ['messages'],
  embeddings: ['embeddings'],
  executions: ['executions'],
  count_tokens: ['messages', 'read-only'],
  models: ['models', 'read-only'],
  // Webhooks announce executions: a key that may submit them may also verify and inspect their webhooks.
  webhook_deliveries: ['webhooks', 'executions', 'read-only'],
  webhooks_manage: ['webhooks', 'executions'],
  // Executions read input files and produce output files: a key that may submit them may handle those.
  files: ['files', 'executions'],
};

export const QUOTA_PERIODS = ['total', 'monthly', 'daily'] as const;
export type QuotaPeriod = (typeof QUOTA_PERIODS)[number];

export interface KeyQuota {
  /** Spend allowed per period, integer nano-dollars (1e-9 USD). */
  nanoUsd: number;
  /** `total`: over the key's life; `monthly` and `daily`: per UTC calendar month or day. */
  period: QuotaPeriod;
}

/** Stored limits; an absent field is not limited. */
export interface KeyLimits {
  /** Requests per minute (a sliding 60 s window). */
  rpm?: number;
  /** Prompt plus completion tokens per minute (a sliding 60 s window). */
  tpm?: number;
  quota?: KeyQuota;
  /** Client addresses allowed, IPv4 and IPv6 CIDR ranges. */
  ips?: string[];
  /** Catalog ids or names the key may use, named or through a tier or `auto`. */
  models?: string[];
  /** Endpoints the key may call; absent: all. */
  scopes?: Scope[];
}

/** Limits as the request path checks them. */
export interface CompiledLimits {
  rpm: number | undefined;
  tpm: number | undefined;
  quota: KeyQuota | undefined;
  ips: BlockList | undefined;
  /** Catalog ids (names resolved against the catalog at load). */
  models: ReadonlySet<string> | undefined;
  scopes: ReadonlySet<Scope> | undefined;
}

const MAX_RATE = 1_000_000_000;
const NANO_PER_USD = 1_000_000_000;

function invalid(param: string, message: string): GatewayError {
  return new GatewayError('invalid_request', message, { param: `limits.${param}` });
}

/** A list given as an array of strings or as one comma- or newline-separated string (forms, CLI). */
function stringList(value: unknown, param: string): string[] {
  const list =
    typeof value === 'string'
      ? value.split(/[\n,]/)
      : Array.isArray(value) && value.every((v) => typeof v === 'string')
        ? (value as string[])
        : undefined;
  if (!list) throw invalid(param, `${param} must be a list of strings`);
  return [...new Set(list.map((s) => s.trim()).filter(Boolean))];
}

function rate(value: unknown, param: string): number {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > MAX_RATE) {
    throw invalid(param, `${param} must be a whole number from 1 to ${MAX_RATE}`);
  }
  return n;
}

function blank(value: unknown): boolean {
  return value === undefined || value === null || value === '';
}

/**
 * Validates limits as an admin API, a form or the CLI gives them; returns what to store (null: none) or
 * throws invalid_request naming the field. Quota money comes as `usd` (a decimal number) or `nanoUsd`.
 */
export function validateKeyLimits(catalog: Catalog, input: unknown): KeyLimits | null {
  if (blank(input)) return null;
  if (typeof input !== 'object' || Array.isArray(input)) {
    throw new GatewayError('invalid_request', 'limits must be an object', { param: 'limits' });
  }
  const raw = input as Record<string, unknown>;
  const known = new Set(['rpm', 'tpm', 'quota', 'ips', 'models', 'scopes']);
  const extra = Object.keys(raw).filter((k) => !known.has(k));
  if (extra.length > 0) {
    throw new GatewayError(
      'invalid_request',
      `Unknown limits: ${extra.join(', ').slice(0, 80)}; use rpm, tpm, quota, ips, models, scopes`,
      { param: 'limits' },
    );
  }
  const out: KeyLimits = {};
  if (!blank(raw['rpm'])) out.rpm = rate(raw['rpm'], 'rpm');
  if (!blank(raw['tpm'])) out.tpm = rate(raw['tpm'], 'tpm');
  if (!blank(raw['quota'])) out.quota = quotaOf(raw['quota']);
  if (!blank(raw['ips'])) {
    const ips = stringList(raw['ips'], 'ips');
    const problems = cidrProblems(ips);
    if (problems.length > 0) throw invalid('ips', `Invalid ips: ${problems.join('; ')}`);
    if (ips.length > 0) out.ips = ips;
  }
  if (!blank(raw['models'])) {
    const models = stringList(raw['models'], 'models');
    const unknown = models.filter((ref) => resolveModelRef(catalog, ref).length === 0);
    if (unknown.length > 0) {
      throw invalid('models', `Unknown models: ${unknown.join(', ').slice(0, 200)}; GET /v1/models lists them`);
    }
    if (models.length > 0) out.models = models;
  }
  if (!blank(raw['scopes'])) {
    const scopes = stringList(raw['scopes'], 'scopes');
    const unknown = scopes.filter((s) => !(SCOPES as readonly string[]).includes(s));
    if (unknown.length > 0 || scopes.length === 0) {
      throw invalid('scopes', `Unknown scopes: ${unknown.join(', ').slice(0, 80)}; use ${SCOPES.join(', ')}`);
    }
    out.scopes = scopes as Scope[];
  }
  return Object.keys(out).length > 0 ? out : null;
}

function quotaOf(value: unknown): KeyQuota {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid('quota', 'quota must be an object: { "usd": 50, "period": "monthly" }');
  }
  const q = value as Record<string, unknown>;
  const period = q['period'] ?? 'monthly';
  if (typeof period !== 'string' || !(QUOTA_PERIODS as readonly string[]).includes(period)) {
    throw invalid('quota.period', `quota.period must be ${QUOTA_PERIODS.join(', ')}`);
  }
  let nanoUsd: number;
  if (!blank(q['nanoUsd'])) {
    const n = q['nanoUsd'];
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
      throw invalid('quota.nanoUsd', 'quota.nanoUsd must be a whole number of nano-dollars, 0 or more');
    }
    nanoUsd = n;
  } else {
    const usd = typeof q['usd'] === 'string' && q['usd'].trim() !== '' ? Number(q['usd']) : q['usd'];
    if (typeof usd !== 'number' || !Number.isFinite(usd) || usd < 0) {
      throw invalid('quota.usd', 'quota.usd must be a number of dollars, 0 or more');
    }
    nanoUsd = Math.round(usd * NANO_PER_USD);
    if (!Number.isSafeInteger(nanoUsd)) throw invalid('quota.usd', 'quota.usd is too large');
  }
  return { nanoUsd, period: period as QuotaPeriod };
}

/** The request path's form of stored limits (null: the key is not limited). */
export function compileLimits(catalog: Catalog, limits: KeyLimits | null): CompiledLimits | null {
  if (!limits) return null;
  let models: Set<string> | undefined;
  if (limits.models) {
    models = new Set();
    for (const ref of limits.models) for (const m of resolveModelRef(catalog, ref)) models.add(m.id);
  }
  return {
    rpm: limits.rpm,
    tpm: limits.tpm,
    quota: limits.quota,
    // Stored lists were validated when written; a range that no longer parses denies rather than throws.
    ips: limits.ips ? safeBlockList(limits.ips) : undefined,
    models,
    scopes: limits.scopes ? new Set(limits.scopes) : undefined,
  };
}

function safeBlockList(list: readonly string[]): BlockList {
  return blockListOf(list.filter((cidr) => cidrProblems([cidr]).length === 0));
}

/** Whether a key with these scopes may call the endpoint. */
export function scopeAllows(scopes: ReadonlySet<Scope> | undefined, endpoint: Endpoint): boolean {
  if (!scopes) return true;
  return GRANTED_BY[endpoint].some((s) => scopes.has(s));
}

/** A key's limits in a few words, for key lists (admin pages, CLI). */
export function limitsSummary(limits: KeyLimits | null): string {
  if (!limits) return '—';
  const parts: string[] = [];
  if (limits.rpm !== undefined) parts.push(`${limits.rpm} rpm`);
  if (limits.tpm !== undefined) parts.push(`${limits.tpm} tpm`);
  if (limits.quota) parts.push(`$${(limits.quota.nanoUsd / 1e9).toFixed(2)} ${limits.quota.period}`);
  if (limits.ips) parts.push(`${limits.ips.length} IP range${limits.ips.length === 1 ? '' : 's'}`);
  if (limits.models) parts.push(`${limits.models.length} model${limits.models.length === 1 ? '' : 's'}`);
  if (limits.scopes) parts.push(limits.scopes.join('+'));
  return parts.join(' · ') || '—';
}
