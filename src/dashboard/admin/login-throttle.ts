import { isIPv6 } from 'node:net';
import { USERNAME } from '../../tenancy/admin-users.ts';

export type LoginSlot = { allowed: true } | { allowed: false; retryAfterSeconds: number };

/** Attempts per address and per account within one window. */
export const LOGIN_LIMIT = 10;
export const LOGIN_WINDOW_MS = 15 * 60_000;
/** Keys held per map (addresses, accounts). */
const CAPACITY = 10_000;
/** The one key of every username that fails the username rules (no such account can exist). */
export const INVALID_ACCOUNT = '\u0000invalid';

/**
 * Slows password guessing on the admin login (the page and the JSON API share one instance). An attempt is
 * counted the moment it arrives, before the password hash runs, so parallel attempts cannot all be
 * evaluated before the first one fails. Counted per address (an IPv6 address by its /64, which one host
 * usually holds whole) and per account (username): LOGIN_LIMIT attempts within a fixed window of LOGIN_WINDOW_MS
 * that starts with the first one, then refusals until the window ends. A successful login starts both counts
 * over.
 *
 * Memory is bounded: each map holds at most CAPACITY live keys, usernames that cannot exist share one key,
 * and when a map is full an attempt that needs a new key is refused instead of evicting one, so rotating
 * addresses or usernames can make the login wait but never resets a count. In memory, per node.
 */
export class LoginThrottle {
  readonly #now: () => number;
  readonly #addresses = new FixedWindows(CAPACITY, LOGIN_WINDOW_MS);
  readonly #accounts = new FixedWindows(CAPACITY, LOGIN_WINDOW_MS);

  readonly #accountKey: (account: string) => string;

  /** `accountKey`: an account's name → its key, one shared key for names that cannot exist (default: admin usernames). */
  constructor(now: () => number = () => Date.now(), accountKey: (account: string) => string = adminAccountKey) {
    this.#now = now;
    this.#accountKey = accountKey;
  }

  /** Counts one attempt, synchronously, or refuses it (then nothing is counted). */
  reserve(address: string, username: string): LoginSlot {
    const now = this.#now();
    const keys: Array<[FixedWindows, string]> = [
      [this.#addresses, addressKey(address)],
      [this.#accounts, this.#accountKey(username)],
    ];
    let waitUntil = 0;
    for (const [windows, key] of keys) {
      const entry = windows.current(key, now);
      if (entry && entry.count >= LOGIN_LIMIT) waitUntil = Math.max(waitUntil, entry.since + windows.windowMs);
      else if (!entry && windows.full) waitUntil = Math.max(waitUntil, windows.oldestEndsAt());
    }
    if (waitUntil > 0) return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((waitUntil - now) / 1000)) };
    for (const [windows, key] of keys) windows.count(key, now);
    return { allowed: true };
  }

  succeeded(address: string, username: string): void {
    this.#addresses.delete(addressKey(address));
    this.#accounts.delete(this.#accountKey(username));
  }

  /** Keys held, addresses and accounts together. */
  get size(): number {
    return this.#addresses.size + this.#accounts.size;
  }
}

/** IPv4 as is (also when IPv4-mapped), IPv6 by its first 64 bits. */
export function addressKey(address: string): string {
  if (!isIPv6(address)) return address;
  const lower = address.toLowerCase();
  if (lower.startsWith('::ffff:') && lower.includes('.')) return lower.slice(7);
  const [head = '', tail] = lower.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? left : [...left, ...Array(8 - left.length - right.length).fill('0'), ...right];
  return `${groups
    .slice(0, 4)
    .map((group) => Number.parseInt(group, 16).toString(16))
    .join(':')}::/64`;
}

function adminAccountKey(username: string): string {
  return USERNAME.test(username) ? username : INVALID_ACCOUNT;
}

/**
 * Counts per key in fixed windows. Keys are kept in the order their windows started, so expired entries
 * are always at the front and dropping them costs nothing per call on average.
 */
class FixedWindows {
  readonly #entries = new Map<string, { count: number; since: number }>();
  readonly #capacity: number;
  readonly windowMs: number;

  constructor(capacity: number, windowMs: number) {
    this.#capacity = capacity;
    this.windowMs = windowMs;
  }

  /** The key's entry if its window is still open. */
  current(key: string, now: number): { count: number; since: number } | undefined {
    for (const [oldest, entry] of this.#entries) {
      if (now - entry.since < this.windowMs) break;
      this.#entries.delete(oldest);
    }
    const entry = this.#entries.get(key);
    if (entry && now - entry.since >= this.windowMs) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry;
  }

  get full(): boolean {
    return this.#entries.size >= this.#capacity;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** When the oldest window ends (a full map has room again). */
  oldestEndsAt(): number {
    const first = this.#entries.values().next();
    return first.done ? 0 : first.value.since + this.windowMs;
  }

  count(key: string, now: number): void {
    const entry = this.#entries.get(key);
    if (entry) entry.count++;
    else this.#entries.set(key, { count: 1, since: now });
  }

  delete(key: string): void {
    this.#entries.delete(key);
  }
}
