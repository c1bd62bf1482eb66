import { hash } from 'node:crypto';
import { GatewayError } from '../core/errors.ts';
import type { Caller } from '../gateway/gateway.ts';

/**
 * The auth seam: request headers → the caller (tenant, key, routing policy). This first version knows the
 * keys listed in the configuration, all belonging to one default tenant; tenancy replaces it with managed
 * keys and bring-your-own-key behind the same interface. Lookups are in memory: a hash map, no I/O.
 */
export interface Authenticator {
  authenticate(headers: Readonly<Record<string, string | string[] | undefined>>): Caller | Promise<Caller>;
  /**
   * A request of this caller succeeded. `verified`: a provider accepted the caller's credential on a real
   * call (a completion), as opposed to an answer the gateway gave on its own (the model list, a local token
   * count). Returns headers to add to the response (the signed dashboard link). A bring-your-own-key tenant
   * is created, and gets a link, only after a verified success, so made-up keys create nothing. Never waits,
   * never throws.
   */
  onSuccess?(caller: Caller, verified: boolean): Record<string, string>;
  /**
   * False for a caller whose credential no provider has accepted yet (a new bring-your-own key): its request
   * body counts against the shared budget of unverified bytes. Absent or true: a known caller.
   */
  verified?(caller: Caller): boolean;
}

export const DEFAULT_TENANT = 'default';

/** One-shot `crypto.hash` (Node ≥ 21.7): no Hash object per call, which matters once per request. */
export function sha256Hex(value: string): string {
  return hash('sha256', value, 'hex');
}

/** The bearer token from `Authorization: Bearer ...`, or Anthropic-style `x-api-key`. */
export function bearerToken(headers: Readonly<Record<string, string | string[] | undefined>>): string | undefined {
  const auth = headers['authorization'];
  const value = Array.isArray(auth) ? auth[0] : auth;
  if (value) {
    const match = /^Bearer\s+(.+)$/i.exec(value.trim());
    return match ? match[1]!.trim() : undefined;
  }
  const apiKey = headers['x-api-key'];
  const raw = Array.isArray(apiKey) ? apiKey[0] : apiKey;
  return raw?.trim() || undefined;
}

export class ConfigKeyAuthenticator implements Authenticator {
  private readonly byHash = new Map<string, Caller>();

  constructor(keys: ReadonlyArray<{ id?: string | undefined; key: string }>) {
    keys.forEach((entry, i) => {
      this.byHash.set(sha256Hex(entry.key), {
        tenantId: DEFAULT_TENANT,
        keyId: entry.id ?? `key-${i + 1}`,
        policy: {},
      });
    });
  }

  authenticate(headers: Readonly<Record<string, string | string[] | undefined>>): Caller {
    const token = bearerToken(headers);
    if (!token) {
      throw new GatewayError('authentication_failed', 'Missing API key: send it as "Authorization: Bearer <key>"');
    }
    const caller = this.byHash.get(sha256Hex(token));
    if (!caller) throw new GatewayError('authentication_failed', 'Invalid API key');
    return caller;
  }
}

/**
 * Headers for a successful response of this caller (the dashboard link); never throws. `verified`: a
 * provider accepted the caller's credential on this request (see Authenticator.onSuccess).
 */
export function successHeaders(auth: Authenticator, caller: Caller, verified: boolean): Record<string, string> {
  try {
    return auth.onSuccess?.(caller, verified) ?? {};
  } catch {
    return {};
  }
}
