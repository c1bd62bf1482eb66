import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { GatewayError } from '../core/errors.ts';
import type { CompiledLimits, KeyQuota } from './key-limits.ts';
import {
  formatReset,
  type KeyLimiter,
  type LimitTicket,
  type MemoryLimiter,
  periodStart,
  quotaRefusal,
  quotaReservationRefusal,
  rateRefusal,
  type Taken,
  WINDOW_MS,
} from './limiter.ts';
import { RESERVE_SCRIPT, SEED_SCRIPT, SETTLE_SCRIPT, TAKE_SCRIPT } from './redis-scripts.ts';

/**
 * Per-key rate and quota counters shared by every replica through Redis (docs/limits.md, docs/deploy.md).
 * Admission is one script call (redis-scripts.ts: check and count in one atomic step, Redis's clock), so N
 * replicas answer as one node would. Quotas: a counter per key and period, seeded once from the stored usage
 * records (the first request of a key in a period, cluster-wide), then increased by each request's cost as it
 * ends. Redis unreachable: `failMode` open counts in `fallback` (this replica's memory), closed refuses with
 * 503; one log line when Redis goes and one when it is back, and the metrics below.
 */

const BUCKET_MS = 100;
/** A `total` quota counter is re-seeded from the database after this long (any period's counter is). */
const TOTAL_TTL_S = 7 * 86_400;
/** Last headers kept per key for peekHeaders (answers outside admission), bounded. */
const MAX_PEEKED = 10_000;
const MAX_STALE = 100_000;

export interface RedisLimiterOptions {
  redis: Redis;
  keyPrefix: string;
  failMode: 'open' | 'closed';
  /** The one-node limiter used while Redis is unreachable (failMode open). */
  fallback: MemoryLimiter;
  /** Spend recorded for the key since `since` (ms), in nano-dollars (seeds the quota counters). */
  spentSince(keyId: string, since: number): Promise<number>;
  /** Redis went away (err) or came back (undefined): log once per change. */
  onStateChange(up: boolean, err?: unknown): void;
  /** A request decided without Redis (failMode applied). */
  onDegraded(): void;
  now?: () => number;
}

type Keys = [string, string, string, string, string, string];
type ScriptReply = [number, number, number, number, number, number, string | number, number];

class Script {
  readonly sha: string;
  readonly source: string;
  constructor(source: string) {
    this.source = source;
    this.sha = createHash('sha1').update(source).digest('hex');
  }
  /** EVALSHA, loading the script on NOSCRIPT (a new or flushed Redis). */
  async run(redis: Redis, keys: string[], args: Array<string | number>): Promise<unknown> {
    try {
      return await redis.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
      return redis.eval(this.source, keys.length, ...keys, ...args);
    }
  }
}

const take = new Script(TAKE_SCRIPT);
const settle = new Script(SETTLE_SCRIPT);
const seed = new Script(SEED_SCRIPT);
const reserve = new Script(RESERVE_SCRIPT);
/** A reservation outlives its request at most this long (a replica that died with it in flight). */
const RESERVATION_TTL_MS = 15 * 60_000;

export class RedisLimiter implements KeyLimiter {
  readonly #o: RedisLimiterOptions;
  readonly #now: () => number;
  #up = true;
  /** Each key's counts as of its last admission on this replica (peekHeaders), bounded. */
  readonly #peeked = new Map<string, ScriptReply>();
  /**
   * Quota counters that missed spend while Redis was away (requests decided by the fallback, settles that
   * failed): deleted when Redis is back, so the next request re-seeds them from the usage records, which
   * hold that spend. Bounded; past the bound a counter keeps its undercount until it expires.
   */
  readonly #staleQuotas = new Set<string>();

  constructor(options: RedisLimiterOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
  }

  /** Whether the last Redis call answered. */
  get up(): boolean {
    return this.#up;
  }

  /** Redis answered again (ioredis reconnected): called by whoever watches the connection. */
  markUp(): void {
    if (this.#up) return;
    this.#up = true;
    this.#o.onStateChange(true);
    const stale = [...this.#staleQuotas];
    this.#staleQuotas.clear();
    for (const key of stale) this.#o.redis.del(key).catch(() => this.#staleQuotas.add(key));
  }

  #missedSpend(quotaKey: string): void {
    if (this.#staleQuotas.size < MAX_STALE) this.#staleQuotas.add(quotaKey);
  }

  /** Redis stopped answering (a failed command, or the connection's error event). */
  markDown(err: unknown): void {
    if (!this.#up) return;
    this.#up = false;
    this.#o.onStateChange(false, err);
  }

  /** Requests hash and set, tokens hash and set, quota counter: one hash tag, one Redis Cluster slot. */
  #keys(keyId: string, quota: KeyQuota | undefined, now: number): Keys {
    const base = `${this.#o.keyPrefix}{${keyId}}`;
    const q = quota ? `${base}:q:${quota.period}:${periodStart(quota.period, now)}` : `${base}:q:none`;
    return [`${base}:r`, `${base}:rz`, `${base}:t`, `${base}:tz`, q, `${q}:res`];
  }

  async admit(keyId: string, limits: CompiledLimits, promptTokens: number): Promise<Taken> {
    const now = this.#now();
    const keys = this.#keys(keyId, limits.quota, now);
    const args = [
      limits.rpm ?? -1,
      limits.tpm ?? -1,
      promptTokens,
      limits.quota ? limits.quota.nanoUsd : -1,
      WINDOW_MS,
      BUCKET_MS,
    ];
    let reply: ScriptReply;
    try {
      reply = (await take.run(this.#o.redis, keys.slice(0, 5), args)) as ScriptReply;
    } catch (err) {
      if (isRedisError(err)) return this.#degraded(err, keys, limits, keyId, promptTokens);
      throw err;
    }
    if (reply[0] === 5 && limits.quota) {
      // The first request of this key in this period (cluster-wide), or the counter expired: seed it from the
      // stored usage records (a database error is the caller's internal error, not Redis being down).
      const stored = await this.#o.spentSince(keyId, periodStart(limits.quota.period, now));
      try {
        await seed.run(this.#o.redis, [keys[4]], [stored, quotaTtlSeconds(limits.quota, now)]);
        reply = (await take.run(this.#o.redis, keys.slice(0, 5), args)) as ScriptReply;
      } catch (err) {
        if (isRedisError(err)) return this.#degraded(err, keys, limits, keyId, promptTokens);
        throw err;
      }
    }
    this.markUp();
    const [status, waitMs] = reply;
    const headers = this.#headers(limits, reply);
    this.#remember(keyId, reply);
    switch (status) {
      case 0:
        return { ok: true, ticket: this.#ticket(keys, String(reply[6]), promptTokens, limits, headers) };
      case 1:
        return rateRefusal(`Rate limit reached for this key: ${limits.rpm} requests per minute`, waitMs, headers);
      case 2:
        return rateRefusal(
          `Rate limit reached for this key: ${limits.tpm} tokens per minute (${reply[4]} used in the last minute, this request needs about ${promptTokens})`,
          waitMs,
          headers,
        );
      case 3:
        return rateRefusal(
          `This request needs about ${promptTokens} tokens, more than this key's limit of ${limits.tpm} tokens per minute`,
          waitMs,
          headers,
        );
      case 4:
        return quotaRefusal(limits.quota!, headers);
      default:
        // 5 again: the counter vanished between seeding and counting (a flush); refused, not let through.
        return { ok: false, error: new GatewayError('internal_error', 'Internal error'), headers };
    }
  }

  #degraded(
    err: unknown,
    keys: Keys,
    limits: CompiledLimits,
    keyId: string,
    promptTokens: number,
  ): Taken | Promise<Taken> {
    this.markDown(err);
    this.#o.onDegraded();
    if (limits.quota) this.#missedSpend(keys[4]);
    if (this.#o.failMode === 'open') return this.#o.fallback.admit(keyId, limits, promptTokens);
    return {
      ok: false,
      error: new GatewayError(
        'provider_unavailable',
        'Rate limits of this key cannot be checked right now (the shared counters are unreachable). Retry in 1 s.',
        { retryAfter: 1 },
      ),
      headers: {},
    };
  }

  peekHeaders(keyId: string, limits: CompiledLimits): Record<string, string> {
    if (limits.rpm === undefined && limits.tpm === undefined) return {};
    const last = this.#up ? this.#peeked.get(keyId) : undefined;
    // The key's current limits (an edit shows at once) with the counts of its last admission here.
    return last ? this.#headers(limits, last) : this.#o.fallback.peekHeaders(keyId, limits);
  }

  close(): void {
    this.#o.fallback.close();
  }

  #remember(keyId: string, reply: ScriptReply): void {
    if (this.#peeked.size >= MAX_PEEKED && !this.#peeked.has(keyId)) this.#peeked.clear();
    this.#peeked.set(keyId, reply);
  }

  #headers(limits: CompiledLimits, reply: ScriptReply): Record<string, string> {
    const headers: Record<string, string> = {};
    if (limits.rpm !== undefined) {
      headers['x-ratelimit-limit-requests'] = String(limits.rpm);
      headers['x-ratelimit-remaining-requests'] = String(Math.max(0, limits.rpm - reply[2]));
      headers['x-ratelimit-reset-requests'] = formatReset(reply[3]);
    }
    if (limits.tpm !== undefined) {
      headers['x-ratelimit-limit-tokens'] = String(limits.tpm);
      headers['x-ratelimit-remaining-tokens'] = String(Math.max(0, limits.tpm - reply[4]));
      headers['x-ratelimit-reset-tokens'] = formatReset(reply[5]);
    }
    return headers;
  }

  #ticket(
    keys: Keys,
    bucket: string,
    estimate: number,
    limits: CompiledLimits,
    headers: Record<string, string>,
  ): LimitTicket {
    let settled = false;
    let member = '';
    const requestId = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 10)}`;
    return {
      headers: () => headers,
      settle: (tokens, costNano) => {
        if (settled) return;
        settled = true;
        const delta = limits.tpm !== undefined ? Math.round(tokens - estimate) : 0;
        const cost = limits.quota ? Math.round(costNano) : 0; // INCRBY takes integers
        if (delta === 0 && cost <= 0 && member === '') return;
        // Off the request path: the answer is sent; a failure here is Redis being down (logged once).
        settle
          .run(
            this.#o.redis,
            [keys[2], keys[4], keys[5]],
            [limits.tpm !== undefined ? bucket : '0', delta, Math.max(0, cost), member],
          )
          .then(
            () => this.markUp(),
            (err: unknown) => {
              if (isRedisError(err)) {
                this.markDown(err);
                if (cost > 0) this.#missedSpend(keys[4]); // dropped when Redis is back
              } else if (cost > 0) {
                // A script error is a bug, not an outage: drop the counter now, re-seeded from the records.
                this.#o.redis.del(keys[4]).catch(() => this.#missedSpend(keys[4]));
              }
            },
          );
      },
      // The quota reservation (docs/limits.md): one script, atomic across replicas.
      reserve: async (amountNano) => {
        const quota = limits.quota;
        if (!quota || settled || member !== '') return undefined;
        const amount = Math.max(0, Math.round(amountNano));
        let reply: [number, number];
        try {
          reply = (await reserve.run(
            this.#o.redis,
            [keys[4], keys[5]],
            [quota.nanoUsd, amount, requestId, RESERVATION_TTL_MS],
          )) as [number, number];
        } catch (err) {
          if (!isRedisError(err)) throw err;
          this.markDown(err);
          this.#o.onDegraded();
          if (this.#o.failMode === 'open') return undefined;
          return new GatewayError(
            'provider_unavailable',
            'The quota of this key cannot be checked right now (the shared counters are unreachable). Retry in 1 s.',
            { retryAfter: 1 },
          );
        }
        if (reply[0] === 0) return quotaReservationRefusal(quota);
        if (reply[0] === 1) member = `${requestId}:${reply[1]}`;
        return undefined;
      },
    };
  }
}

/** Seconds a quota counter lives: to the end of its period (plus an hour), or a week for `total`. */
function quotaTtlSeconds(quota: KeyQuota, now: number): number {
  if (quota.period === 'total') return TOTAL_TTL_S;
  const d = new Date(now);
  const end =
    quota.period === 'daily'
      ? Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1)
      : Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
  return Math.max(60, Math.ceil((end - now) / 1000) + 3_600);
}

/**
 * Errors of the Redis connection (refused, reset, timed out, offline) as opposed to a script bug. ioredis
 * rejects with plain Errors; ReplyError (a script error) has name 'ReplyError' and is a bug, not an outage.
 */
function isRedisError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  return err.name !== 'ReplyError' || /LOADING|BUSY|READONLY|MASTERDOWN|CLUSTERDOWN|TRYAGAIN/.test(err.message);
}
