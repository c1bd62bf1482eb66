import { GatewayError } from '../core/errors.ts';
import type { CompiledLimits, KeyQuota, QuotaPeriod } from './key-limits.ts';
import { SlidingWindow } from './sliding-window.ts';

/**
 * Per-key rate and quota counters of one node, in memory and exact: `take` checks every counter and counts
 * the request in one synchronous step, so requests arriving together on the event loop can never overshoot
 * (the whole check-and-count runs without yielding). Rates use a sliding window of 100 ms buckets (sliding-window.ts);
 * quotas sum metered spend per period, starting from the key's stored usage (loaded once per key and
 * period, the only asynchronous step, done before the synchronous one). docs/limits.md.
 */

export const WINDOW_MS = 60_000;
const NANO_PER_USD = 1e9;

/** What one admitted request of a limited key holds until it ends. */
export interface LimitTicket {
  /** The x-ratelimit-* headers as they stand now (none for a key without rpm or tpm). */
  headers(): Record<string, string>;
  /** The request ended: its real tokens (prompt plus completion) replace its estimate; its cost is spent. */
  settle(tokens: number, costNano: number): void;
  /**
   * Reserves the most the routed request can cost against the key's quota (after routing, before the first
   * upstream byte), released into the real cost by `settle`: requests in flight together cannot overshoot
   * the quota. Undefined when reserved (or the key has no quota); the refusal otherwise. Absent: this
   * limiter checks the quota at admission only.
   */
  reserve?(amountNano: number): GatewayError | undefined | Promise<GatewayError | undefined>;
}

export type Taken =
  | { ok: true; ticket: LimitTicket }
  | { ok: false; error: GatewayError; headers: Record<string, string> };

/**
 * Where admission counts a limited key's requests: `MemoryLimiter` (one node, this file) or `RedisLimiter`
 * (replicas sharing counters, redis-limiter.ts). Both give the same answers: the same sliding window, the
 * same refusals, headers and Retry-After. `admit` is synchronous or one await (never a query per request).
 */
export interface KeyLimiter {
  /** Checks the key's quota, requests and tokens and counts the request when all pass. */
  admit(keyId: string, limits: CompiledLimits, promptTokens: number): Taken | Promise<Taken>;
  /** The x-ratelimit-* headers of a key without counting anything (answers outside admission). */
  peekHeaders(keyId: string, limits: CompiledLimits): Record<string, string>;
  /**
   * The key's spend in its quota period as this node knows it without a round trip, for a billing hold's
   * key-quota check (pipeline/hold.ts); undefined when not known locally (RedisLimiter: the quota is then
   * enforced by admission's own check only).
   */
  spent?(keyId: string): number | undefined;
  close(): void | Promise<void>;
}

export interface LimiterOptions {
  /** Spend recorded for the key since `since` (ms), in nano-dollars. */
  spentSince(keyId: string, since: number): Promise<number>;
  now?: () => number;
}

interface Rates {
  requests: SlidingWindow;
  tokens: SlidingWindow;
}

interface QuotaState {
  period: QuotaPeriod;
  periodStart: number;
  /** Settled spend this period, nano-dollars. */
  spent: number;
  /** Reserved by requests in flight (their most possible cost), nano-dollars. */
  reserved: number;
  loading: Promise<void> | undefined;
}

export class MemoryLimiter implements KeyLimiter {
  readonly #o: LimiterOptions;
  readonly #now: () => number;
  readonly #rates = new Map<string, Rates>();
  readonly #quotas = new Map<string, QuotaState>();
  readonly #sweep: NodeJS.Timeout;

  constructor(options: LimiterOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    // Memory follows active keys: windows of keys idle for a whole window are dropped.
    this.#sweep = setInterval(() => this.sweep(), WINDOW_MS);
    this.#sweep.unref();
  }

  close(): void {
    clearInterval(this.#sweep);
  }

  /** Keys with rate state in memory (tests and metrics). */
  get activeKeys(): number {
    return this.#rates.size;
  }

  sweep(): void {
    const now = this.#now();
    for (const [key, rates] of this.#rates) {
      rates.requests.prune(now);
      rates.tokens.prune(now);
      if (rates.requests.empty && rates.tokens.empty) this.#rates.delete(key);
    }
  }

  /**
   * Resolves once the key's spend so far this period is known (at once, undefined, when it already is):
   * the first request of a key with a quota, after start or after its quota was set, waits for one query.
   */
  quotaReady(keyId: string, quota: KeyQuota): Promise<void> | undefined {
    const now = this.#now();
    let state = this.#quotas.get(keyId);
    if (state && state.period === quota.period) {
      const start = periodStart(quota.period, now);
      if (start !== state.periodStart) {
        state.periodStart = start;
        state.spent = 0;
      }
      return state.loading;
    }
    const since = periodStart(quota.period, now);
    state = { period: quota.period, periodStart: since, spent: 0, reserved: 0, loading: undefined };
    const loading = this.#o.spentSince(keyId, since).then(
      (stored) => {
        // Spend settled while the query ran (requests in flight) is added to what was stored.
        state.spent += stored;
        state.loading = undefined;
      },
      (err: unknown) => {
        if (this.#quotas.get(keyId) === state) this.#quotas.delete(keyId);
        throw err;
      },
    );
    state.loading = loading;
    this.#quotas.set(keyId, state);
    return loading;
  }

  admit(keyId: string, limits: CompiledLimits, promptTokens: number): Taken | Promise<Taken> {
    const loading = limits.quota ? this.quotaReady(keyId, limits.quota) : undefined;
    if (!loading) return this.take(keyId, limits, promptTokens);
    return loading.then(() => this.take(keyId, limits, promptTokens));
  }

  /** Settled spend of the key this period (undefined: not tracked), nano-dollars. */
  spent(keyId: string): number | undefined {
    return this.#quotas.get(keyId)?.spent;
  }

  /**
   * Checks quota, requests and tokens, and counts the request, in one synchronous step. `promptTokens`: the
   * request's prompt estimate, counted against tpm until its real usage is known.
   */
  take(keyId: string, limits: CompiledLimits, promptTokens: number): Taken {
    const now = this.#now();
    if (limits.quota) {
      const state = this.#quotas.get(keyId);
      if (!state || state.loading) {
        // quotaReady was not awaited: a programming error, refused rather than let through unmetered.
        return { ok: false, error: new GatewayError('internal_error', 'Internal error'), headers: {} };
      }
      if (state.spent >= limits.quota.nanoUsd) return quotaRefusal(limits.quota, this.#headers(keyId, limits, now));
    }
    const hasRates = limits.rpm !== undefined || limits.tpm !== undefined;
    if (!hasRates) return { ok: true, ticket: this.#ticket(keyId, limits, undefined) };
    let rates = this.#rates.get(keyId);
    if (!rates) {
      rates = { requests: new SlidingWindow(WINDOW_MS), tokens: new SlidingWindow(WINDOW_MS) };
      this.#rates.set(keyId, rates);
    }
    rates.requests.prune(now);
    rates.tokens.prune(now);
    if (limits.rpm !== undefined && rates.requests.sum >= limits.rpm) {
      const waitMs = rates.requests.untilSumAtMost(limits.rpm - 1, now);
      return this.#refusal(
        keyId,
        limits,
        now,
        waitMs,
        `Rate limit reached for this key: ${limits.rpm} requests per minute`,
      );
    }
    if (limits.tpm !== undefined && rates.tokens.sum + promptTokens > limits.tpm) {
      if (promptTokens > limits.tpm) {
        return this.#refusal(
          keyId,
          limits,
          now,
          WINDOW_MS,
          `This request needs about ${promptTokens} tokens, more than this key's limit of ${limits.tpm} tokens per minute`,
        );
      }
      const waitMs = rates.tokens.untilSumAtMost(limits.tpm - promptTokens, now);
      return this.#refusal(
        keyId,
        limits,
        now,
        waitMs,
        `Rate limit reached for this key: ${limits.tpm} tokens per minute (${rates.tokens.sum} used in the last minute, this request needs about ${promptTokens})`,
      );
    }
    rates.requests.add(now, 1);
    const entry =
      limits.tpm !== undefined
        ? { window: rates.tokens, bucket: rates.tokens.add(now, promptTokens), estimate: promptTokens }
        : undefined;
    return { ok: true, ticket: this.#ticket(keyId, limits, entry) };
  }

  /** The x-ratelimit-* headers of a key without counting anything (answers outside admission). */
  peekHeaders(keyId: string, limits: CompiledLimits): Record<string, string> {
    return this.#headers(keyId, limits, this.#now());
  }

  #refusal(keyId: string, limits: CompiledLimits, now: number, waitMs: number, message: string): Taken {
    return rateRefusal(message, waitMs, this.#headers(keyId, limits, now));
  }

  #ticket(
    keyId: string,
    limits: CompiledLimits,
    entry: { window: SlidingWindow; bucket: number; estimate: number } | undefined,
  ): LimitTicket {
    let settled = false;
    let reservation: { state: QuotaState; amount: number } | undefined;
    return {
      headers: () => this.#headers(keyId, limits, this.#now()),
      settle: (tokens, costNano) => {
        if (settled) return;
        settled = true;
        // The window the estimate went into (a swept key gets a new one, whose numbers start again).
        entry?.window.correct(entry.bucket, tokens - entry.estimate);
        if (reservation) reservation.state.reserved -= reservation.amount;
        if (costNano > 0) {
          const state = this.#quotas.get(keyId);
          if (state) state.spent += costNano;
        }
      },
      reserve: (amountNano) => {
        const quota = limits.quota;
        const state = this.#quotas.get(keyId);
        if (!quota || !state || settled || reservation) return undefined;
        // Checked and reserved in one synchronous step: concurrent requests cannot both take the last share.
        // A request may start while any of the quota is left (as before reservations: the last one may go
        // past it by what it costs beyond that share); it reserves its most possible cost, capped at that.
        const left = quota.nanoUsd - state.spent - state.reserved;
        if (left <= 0) return quotaReservationRefusal(quota);
        const amount = Math.min(left, Math.max(0, Math.round(amountNano)));
        state.reserved += amount;
        reservation = { state, amount };
        return undefined;
      },
    };
  }

  #headers(keyId: string, limits: CompiledLimits, now: number): Record<string, string> {
    const headers: Record<string, string> = {};
    if (limits.rpm === undefined && limits.tpm === undefined) return headers;
    const rates = this.#rates.get(keyId);
    rates?.requests.prune(now);
    rates?.tokens.prune(now);
    if (limits.rpm !== undefined) {
      headers['x-ratelimit-limit-requests'] = String(limits.rpm);
      headers['x-ratelimit-remaining-requests'] = String(Math.max(0, limits.rpm - (rates?.requests.sum ?? 0)));
      headers['x-ratelimit-reset-requests'] = formatReset(rates?.requests.untilOldestLeaves(now) ?? 0);
    }
    if (limits.tpm !== undefined) {
      headers['x-ratelimit-limit-tokens'] = String(limits.tpm);
      headers['x-ratelimit-remaining-tokens'] = String(Math.max(0, limits.tpm - (rates?.tokens.sum ?? 0)));
      headers['x-ratelimit-reset-tokens'] = formatReset(rates?.tokens.untilOldestLeaves(now) ?? 0);
    }
    return headers;
  }
}

/** A 429 rate_limited refusal: Retry-After in whole seconds, at least 1. */
export function rateRefusal(message: string, waitMs: number, headers: Record<string, string>): Taken {
  const seconds = Math.max(1, Math.ceil(waitMs / 1000));
  return {
    ok: false,
    error: new GatewayError('rate_limited', `${message}. Retry in ${seconds} s.`, { retryAfter: seconds }),
    headers,
  };
}

/** A 402 quota_exceeded refusal. */
export function quotaRefusal(quota: KeyQuota, headers: Record<string, string>): Taken {
  const usd = (quota.nanoUsd / NANO_PER_USD).toFixed(2);
  const period = quota.period === 'total' ? '' : ` this ${quota.period === 'daily' ? 'day' : 'month'}`;
  return {
    ok: false,
    error: new GatewayError('quota_exceeded', `This key has used its quota of $${usd}${period}`),
    headers,
  };
}

/** A 402 quota_exceeded refusal of a reservation: the quota is spent or reserved by requests in flight. */
export function quotaReservationRefusal(quota: KeyQuota): GatewayError {
  const usd = (quota.nanoUsd / NANO_PER_USD).toFixed(2);
  const period = quota.period === 'total' ? '' : ` this ${quota.period === 'daily' ? 'day' : 'month'}`;
  return new GatewayError(
    'quota_exceeded',
    `This key has used its quota of $${usd}${period} (counting what requests in flight may still cost)`,
  );
}

/** Start of the period that holds `now` (UTC calendar days and months). */
export function periodStart(period: QuotaPeriod, now: number): number {
  if (period === 'total') return 0;
  const d = new Date(now);
  return period === 'daily'
    ? Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate())
    : Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
}

/** A duration as OpenAI's x-ratelimit-reset-* headers write it: `20ms`, `1.5s`, `1m0s`. */
export function formatReset(ms: number): string {
  if (ms < 1000) return `${Math.ceil(ms)}ms`;
  const seconds = Math.ceil(ms) / 1000;
  if (seconds < 60) return `${Number(seconds.toFixed(3))}s`;
  const minutes = Math.floor(seconds / 60);
  return `${minutes}m${Number((seconds - minutes * 60).toFixed(3))}s`;
}
