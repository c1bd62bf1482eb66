/**
 * Slows password guessing: after `limit` failed logins from one address within `windowMs`, further
 * attempts from it are refused until the window passes. In memory, per node; bounded in size.
 */
export class LoginThrottle {
  readonly #failures = new Map<string, { count: number; since: number }>();
  readonly #limit: number;
  readonly #windowMs: number;
  readonly #now: () => number;

  constructor(limit = 10, windowMs = 15 * 60_000, now: () => number = Date.now) {
    this.#limit = limit;
    this.#windowMs = windowMs;
    this.#now = now;
  }

  blocked(address: string): boolean {
    const entry = this.#failures.get(address);
    if (!entry) return false;
    if (this.#now() - entry.since > this.#windowMs) {
      this.#failures.delete(address);
      return false;
    }
    return entry.count >= this.#limit;
  }

  failed(address: string): void {
    if (this.#failures.size > 10_000) this.#failures.clear();
    const now = this.#now();
    const entry = this.#failures.get(address);
    if (!entry || now - entry.since > this.#windowMs) this.#failures.set(address, { count: 1, since: now });
    else entry.count++;
  }

  succeeded(address: string): void {
    this.#failures.delete(address);
  }
}
