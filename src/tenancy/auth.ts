/** Credentials as the gateway handles them: hashed, and read from the request headers. */
import { hash } from 'node:crypto';

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
