import { createHmac } from 'node:crypto';

/**
 * A bring-your-own-key tenant is named by a keyed hash of the key, never by the key: HMAC-SHA256 under the
 * server's BYOK subkey over the provider kind and the key. Without the server secret the id cannot be linked
 * back to a key (a plain hash of a leaked key would be), and the same key always lands in the same tenant.
 * The provider kind is part of the input so one string used for two providers makes two tenants.
 */
export function byokHmac(subkey: Buffer, providerKind: string, key: string): string {
  return createHmac('sha256', subkey).update(`${providerKind}\n${key}`).digest('hex');
}

/** Starts every bring-your-own-key tenant id; operator-chosen ids may not (tenant.ts). */
export const BYOK_TENANT_PREFIX = 'byok_';

/** 128 bits of the HMAC: short enough for URLs and usage records, far beyond collision range. */
export function byokTenantId(hmacHex: string): string {
  return `${BYOK_TENANT_PREFIX}${hmacHex.slice(0, 32)}`;
}
