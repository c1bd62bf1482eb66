import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Signed dashboard links: `<base>/client/open?link=<tenant>.<issued ms>.<expires ms>.<signature>`, where the
 * signature is HMAC-SHA256 under the server's link subkey over `tenant|issued|expires`. The link names one
 * tenant and grants nothing else; it expires; and a tenant can refuse every link issued before an instant
 * (`links_valid_after`), which is why the issue time is signed too.
 *
 * The hot path never signs: each tenant's header value is cached and re-signed only after `refreshMs` (or
 * when the tenant revoked its links), so a handed-out link stays valid for at least ttl − refresh.
 */
export const DASHBOARD_HEADER = 'x-client-dashboard-url';
export const OPEN_PATH = '/client/open';

export interface LinkClaims {
  tenantId: string;
  issuedAt: number;
  expiresAt: number;
}

export type LinkCheck = { ok: true; claims: LinkClaims } | { ok: false; reason: 'malformed' | 'signature' | 'expired' };

const TOKEN = /^([A-Za-z0-9_-]{1,100})\.(\d{1,15})\.(\d{1,15})\.([A-Za-z0-9_-]{43})$/;
/** Bound on how many tenants' links stay cached; past it the cache starts over (a re-sign is cheap). */
const MAX_CACHED = 50_000;

export function signLink(key: Buffer, claims: LinkClaims): string {
  const { tenantId, issuedAt, expiresAt } = claims;
  return `${tenantId}.${issuedAt}.${expiresAt}.${signature(key, tenantId, issuedAt, expiresAt)}`;
}

/** Checks shape, signature and expiry; revocation (links_valid_after) is checked against the tenant by the caller. */
export function verifyLink(key: Buffer, token: string, now: number): LinkCheck {
  const match = TOKEN.exec(token);
  if (!match) return { ok: false, reason: 'malformed' };
  const [, tenantId, issued, expires, sig] = match as unknown as [string, string, string, string, string];
  const issuedAt = Number(issued);
  const expiresAt = Number(expires);
  const expected = Buffer.from(signature(key, tenantId, issuedAt, expiresAt), 'base64url');
  const given = Buffer.from(sig, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'signature' };
  if (now >= expiresAt) return { ok: false, reason: 'expired' };
  return { ok: true, claims: { tenantId, issuedAt, expiresAt } };
}

function signature(key: Buffer, tenantId: string, issuedAt: number, expiresAt: number): string {
  return createHmac('sha256', key).update(`${tenantId}|${issuedAt}|${expiresAt}`).digest('base64url');
}

interface Cached {
  url: string;
  issuedAt: number;
  validAfter: number;
}

export interface DashboardLinksOptions {
  key: Buffer;
  ttlMs: number;
  refreshMs: number;
  now?: () => number;
}

export class DashboardLinks {
  readonly #key: Buffer;
  readonly #ttlMs: number;
  readonly #refreshMs: number;
  readonly #now: () => number;
  readonly #cache = new Map<string, Cached>();
  #baseUrl = '';

  constructor(options: DashboardLinksOptions) {
    this.#key = options.key;
    this.#ttlMs = options.ttlMs;
    // Re-signing at least every quarter of the TTL keeps handed-out links useful for most of their life.
    this.#refreshMs = Math.min(options.refreshMs, Math.max(1, Math.floor(options.ttlMs / 4)));
    this.#now = options.now ?? Date.now;
  }

  /** The public origin links point at (server.publicUrl, else the address the server listens on). */
  get baseUrl(): string {
    return this.#baseUrl;
  }

  setBaseUrl(url: string): void {
    this.#baseUrl = url.replace(/\/+$/, '');
    this.#cache.clear();
  }

  /** The tenant's current link, from the cache when fresh. `validAfter`: the tenant's links_valid_after. */
  urlFor(tenantId: string, validAfter: number): string {
    const now = this.#now();
    const cached = this.#cache.get(tenantId);
    if (cached && cached.validAfter === validAfter && now - cached.issuedAt < this.#refreshMs) return cached.url;
    const issuedAt = Math.max(now, validAfter);
    const url = this.urlOf(signLink(this.#key, { tenantId, issuedAt, expiresAt: issuedAt + this.#ttlMs }));
    if (this.#cache.size >= MAX_CACHED) this.#cache.clear();
    this.#cache.set(tenantId, { url, issuedAt, validAfter });
    return url;
  }

  /** A freshly signed link (CLI, admin pages); not cached. */
  issue(tenantId: string): string {
    const issuedAt = this.#now();
    return this.urlOf(signLink(this.#key, { tenantId, issuedAt, expiresAt: issuedAt + this.#ttlMs }));
  }

  verify(token: string): LinkCheck {
    return verifyLink(this.#key, token, this.#now());
  }

  urlOf(token: string): string {
    return `${this.#baseUrl}${OPEN_PATH}?link=${token}`;
  }
}
