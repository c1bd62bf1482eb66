import { createHash } from 'node:crypto';
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
 * Attempt counts every replica shares (Redis, src/server/shared-limits.ts): with several gateways behind a load
 * balancer a guesser would otherwise get LOGIN_LIMIT attempts per replica.
 */
export interface SharedAttemptCounts {
  /**
   * Counts one attempt under every key unless one of them already holds `limit` attempts in its window
   * (then nothing is counted): 0 when counted, else the milliseconds until the fullest window ends.
   * Rejects when the counts cannot be reached (the caller falls back to its own).
   */
  reserve(keys: readonly string[], limit: number, windowMs: number): Promise<number>;
  /** Starts the keys' counts over (a successful sign-in). */
  clear(keys: readonly string[]): Promise<void>;
}

export interface LoginThrottleOptions {
  now?: () => number;
  /** An account's name → its key, one shared key for names that cannot exist (default: admin usernames). */
  accountKey?: (account: string) => string;
  /** Counts shared by every replica; this node's own stay the fallback while they cannot be reached. */
  shared?: { counts: SharedAttemptCounts; scope: string; onError?: (err: unknown) => void } | undefined;
}

/**
 * Slows password guessing on the admin login (the page and the JSON API share one instance). An attempt is
 * counted the moment it arrives, before the password hash runs, so parallel attempts cannot all be
 * evaluated before the first one fails. Counted per address (an IPv6 address by its /64, which one host
 * usually holds whole) and per account (username): LOGIN_LIMIT attempts within a fixed window of LOGIN_WINDOW_MS
 * that starts with the first one, then refusals until the window ends. A successful login starts both counts
 * over. With `shared` counts (Redis) the same windows are kept there too, so the limit holds across replicas;
 * while Redis cannot be reached each node's own counts decide.
 *
 * Memory is bounded: each map holds at most CAPACITY live keys, usernames that cannot exist share one key,
 * and when a map is full an attempt that needs a new key is refused instead of evicting one, so rotating
 * addresses or usernames can make the login wait but never resets a count.
 */
export class LoginThrottle {
  readonly #now: () => number;
  readonly #addresses = new FixedWindows(CAPACITY, LOGIN_WINDOW_MS);
  readonly #accounts = new FixedWindows(CAPACITY, LOGIN_WINDOW_MS);

  readonly #accountKey: (account: string) => string;
  readonly #shared: LoginThrottleOptions['shared'];

  constructor(options: LoginThrottleOptions = {}) {
    this.#now = options.now ?? (() => Date.now());
    this.#accountKey = options.accountKey ?? adminAccountKey;
    this.#shared = options.shared;
  }

  /**
   * Counts one attempt or refuses it. This node's count is taken synchronously, before any await, so parallel
   * attempts here cannot all pass; then the shared count (atomic in Redis) decides, and a refusal there leaves
   * this node's count one higher (it only matters while Redis is away, and errs on the side of refusing).
   */
  async reserve(address: string, username: string): Promise<LoginSlot> {
    const local = this.#reserveHere(address, username);
    const shared = this.#shared;
    if (!local.allowed || !shared) return local;
    let waitMs: number;
    try {
      waitMs = await shared.counts.reserve(this.#sharedKeys(address, username), LOGIN_LIMIT, LOGIN_WINDOW_MS);
    } catch (err) {
      shared.onError?.(err);
      return local;
    }
    return waitMs > 0 ? { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)) } : local;
  }

  #sharedKeys(address: string, username: string): string[] {
    // The account part is hashed: Redis holds no email address or username.
    const account = createHash('sha256').update(this.#accountKey(username)).digest('base64url').slice(0, 22);
    const scope = this.#shared?.scope ?? '';
    return [`${scope}:addr:${addressKey(address)}`, `${scope}:acct:${account}`];
  }

  #reserveHere(address: string, username: string): LoginSlot {
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
    const shared = this.#shared;
    shared?.counts.clear(this.#sharedKeys(address, username)).catch((err: unknown) => shared.onError?.(err));
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
