import { randomBytes } from 'node:crypto';
import { sha256Hex } from './auth.ts';

/**
 * Managed keys: `mdro_` + 43 base64url characters (256 random bits). Stored as SHA-256 only. A fast hash is
 * enough here because the key is high-entropy: nobody can enumerate 2^256 candidates against a leaked hash,
 * so a slow password hash (scrypt, argon2) would only add milliseconds to every cache load without adding
 * safety. Passwords, which people choose, get scrypt (passwords.ts).
 */
export const MANAGED_KEY_PREFIX = 'mdro_';
/** Characters shown in lists (`mdro_` + 8): enough to tell keys apart, far too few to guess the rest. */
const SHOWN = MANAGED_KEY_PREFIX.length + 8;

export interface NewManagedKey {
  id: string;
  /** The key itself: shown once, never stored. */
  key: string;
  hash: string;
  prefix: string;
}

export function generateManagedKey(): NewManagedKey {
  const key = `${MANAGED_KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
  return { id: newKeyId(), key, hash: sha256Hex(key), prefix: key.slice(0, SHOWN) };
}

export function newKeyId(): string {
  return `key_${randomBytes(8).toString('hex')}`;
}

export function looksLikeManagedKey(token: string): boolean {
  return token.startsWith(MANAGED_KEY_PREFIX);
}
