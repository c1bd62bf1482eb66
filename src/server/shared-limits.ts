import { createHash } from 'node:crypto';
import { Counter, Gauge } from 'prom-client';
import type { Config } from '../config/schema.ts';
import type { SharedAttemptCounts } from '../dashboard/admin/login-throttle.ts';
import { type KeyLimiter, MemoryLimiter } from '../limits/limiter.ts';
import { RedisLimiter } from '../limits/redis-limiter.ts';
import type { Logger } from '../ops/logger.ts';
import type { Metrics } from '../ops/metrics.ts';
import { RedisChangeFeed, type SettingsChangeFeed } from '../tenancy/change-feed.ts';

/**
 * What replicas share, assembled from the `redis:` setting: the limiter (counters in Redis, this replica's
 * memory as the failMode-open fallback), the settings-change channel, the channel-change, rejected-key and
 * models-refresh notices (docs/channels.md, docs/routing.md), and their metrics:
 * `modro_redis_up` (1 while Redis answers) and `modro_limits_degraded_total` (requests whose limits were
 * decided without Redis). Without `redis:` the limiter is the one-node MemoryLimiter.
 */
export interface SharedLimits {
  limiter: KeyLimiter;
  /** Wraps the database poll with the Redis channel (undefined: the poll alone). */
  wrapFeed: ((poll: SettingsChangeFeed) => SettingsChangeFeed) | undefined;
  /** With `redis:` set: whether it answers now, and the failMode (readiness, docs/deploy.md); else undefined. */
  redis(): { up: boolean; failMode: 'open' | 'closed' } | undefined;
  /** Channel-change notices between replicas (undefined without Redis: the revision poll alone). */
  channelNotices: Notices | undefined;
  /** "This provider key was rejected upstream" between replicas (undefined without Redis: each finds out itself). */
  keyVerdicts: KeyVerdicts | undefined;
  /** "List the providers' models now" between replicas (an on-demand discovery refresh reaches them all). */
  catalogRefresh: Notices | undefined;
  /** Sign-in and mail attempt counts of the dashboards, shared by every replica (undefined: each counts its own). */
  attemptCounts: SharedAttemptCounts | undefined;
  close(): Promise<void>;
}

/**
 * Fixed windows in Redis for the sign-in throttles (login-throttle.ts): refuse if any key holds `limit`
 * attempts (answering the longest remaining window), else count one under each key, the first starting its
 * window. One script, so parallel attempts on several replicas cannot all pass.
 */
const ATTEMPT_SCRIPT = `
local limit = tonumber(ARGV[1])
local wait = 0
for _, key in ipairs(KEYS) do
  local n = tonumber(redis.call('GET', key) or '0')
  if n >= limit then
    local ttl = redis.call('PTTL', key)
    if ttl < 0 then ttl = tonumber(ARGV[2]) end
    if ttl > wait then wait = ttl end
  end
end
if wait > 0 then return wait end
for _, key in ipairs(KEYS) do
  if redis.call('INCR', key) == 1 then redis.call('PEXPIRE', key, ARGV[2]) end
end
return 0
`;

/**
 * A notice over Redis pub/sub that only says "do it now" (reload the channel tables, list the providers): the
 * database or the providers are the news, so a lost notice costs at most the poll or the schedule.
 */
export interface Notices {
  subscribe(onChange: () => void): void;
  publish(): Promise<void>;
}

/** A provider key rejected upstream (401/403) on one replica, told to the others: ids only, never a secret. */
export interface KeyVerdicts {
  subscribe(onRejected: (provider: string, keyId: string) => void): void;
  publish(provider: string, keyId: string): void;
}

export async function createSharedLimits(options: {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  spentSince(keyId: string, since: number): Promise<number>;
}): Promise<SharedLimits> {
  const { config, logger, metrics, spentSince } = options;
  const memory = new MemoryLimiter({ spentSince });
  const settings = config.redis;
  if (!settings)
    return {
      limiter: memory,
      wrapFeed: undefined,
      redis: () => undefined,
      channelNotices: undefined,
      keyVerdicts: undefined,
      catalogRefresh: undefined,
      attemptCounts: undefined,
      close: async () => memory.close(),
    };

  const { Redis } = await import('ioredis'); // loaded only by a deployment with redis:
  const registers = [metrics.registry];
  const upGauge = new Gauge({
    name: 'modro_redis_up',
    help: '1 while Redis (shared limit counters, change notices) answers, 0 while it does not',
    registers,
  });
  const degraded = new Counter({
    name: 'modro_limits_degraded_total',
    help: `Requests of limited keys decided without Redis (redis.failMode ${settings.failMode})`,
    registers,
  });
  const redis = new Redis(settings.url, {
    lazyConnect: true,
    // Fail at once while disconnected (failMode decides), never queue requests behind a dead connection.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: settings.commandTimeoutMs,
    connectTimeout: 2_000,
    // Reconnect for ever, at most every second: recovery without a restart.
    retryStrategy: (times) => Math.min(times * 100, 1_000),
  });
  const limiter = new RedisLimiter({
    redis,
    keyPrefix: settings.keyPrefix,
    failMode: settings.failMode,
    fallback: memory,
    spentSince,
    onStateChange(up, err) {
      upGauge.set(up ? 1 : 0);
      if (up) logger.info('Redis answers again: key limits are shared across replicas again');
      else
        logger.error(
          { reason: err instanceof Error ? err.message : String(err), failMode: settings.failMode },
          settings.failMode === 'open'
            ? 'Redis unreachable: key limits are counted in this replica only until it is back (redis.failMode open)'
            : 'Redis unreachable: requests of keys with rpm, tpm or quota are refused with 503 until it is back (redis.failMode closed)',
        );
    },
    onDegraded: () => degraded.inc(),
  });
  // Connection events drive the state too, so an outage with no traffic is logged (once) and measured.
  redis.on('error', (err: unknown) => limiter.markDown(err));
  redis.on('ready', () => limiter.markUp());
  upGauge.set(0);
  try {
    await redis.connect();
    upGauge.set(1);
  } catch (err) {
    limiter.markDown(err); // starts degraded; ioredis keeps reconnecting
  }
  // A subscribed connection can do nothing else; its offline queue holds the SUBSCRIBE until it connects.
  const subscriber = redis.duplicate({ enableOfflineQueue: true, commandTimeout: undefined });
  subscriber.on('error', () => {}); // the command connection's state is the one logged
  const channel = `${settings.keyPrefix}settings`;
  const noticeFailed = (err: unknown) =>
    logger.warn(
      { reason: err instanceof Error ? err.message : String(err) },
      'Redis notice failed (other replicas catch up through their poll or schedule)',
    );
  /** A notice that only says "do it now" on `<keyPrefix><name>`; `catchUp`: once more after a reconnect. */
  const notices = (name: string, catchUp: boolean): Notices => {
    const full = `${settings.keyPrefix}${name}`;
    return {
      subscribe(onChange) {
        subscriber.on('message', (ch: string) => {
          if (ch === full) onChange();
        });
        // A resubscription after a reconnect may have missed notices (not at the first connection).
        let subscribed = false;
        if (catchUp)
          subscriber.on('ready', () => {
            if (subscribed) onChange();
          });
        subscriber.subscribe(full).then(() => {
          subscribed = true;
        }, noticeFailed);
      },
      publish: () =>
        redis.publish(full, '1').then(
          () => {},
          (err: unknown) => noticeFailed(err),
        ),
    };
  };
  const channelNotices = notices('channels', true);
  const verdictsChannel = `${settings.keyPrefix}key-rejected`;
  const keyVerdicts: KeyVerdicts = {
    subscribe(onRejected) {
      subscriber.on('message', (ch: string, message: string) => {
        if (ch !== verdictsChannel) return;
        try {
          const { provider, keyId } = JSON.parse(message) as { provider?: unknown; keyId?: unknown };
          if (typeof provider === 'string' && typeof keyId === 'string') onRejected(provider, keyId);
        } catch {
          // not ours
        }
      });
      subscriber.subscribe(verdictsChannel).catch(noticeFailed);
    },
    publish(provider, keyId) {
      redis.publish(verdictsChannel, JSON.stringify({ provider, keyId })).catch(noticeFailed);
    },
  };
  const attemptSha = createHash('sha1').update(ATTEMPT_SCRIPT).digest('hex');
  const attemptPrefix = `${settings.keyPrefix}attempts:`;
  const attemptCounts: SharedAttemptCounts = {
    async reserve(keys, limit, windowMs) {
      const full = keys.map((k) => attemptPrefix + k);
      try {
        return Number(await redis.evalsha(attemptSha, full.length, ...full, limit, windowMs));
      } catch (err) {
        if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
        return Number(await redis.eval(ATTEMPT_SCRIPT, full.length, ...full, limit, windowMs));
      }
    },
    async clear(keys) {
      await redis.del(...keys.map((k) => attemptPrefix + k));
    },
  };
  return {
    limiter,
    attemptCounts,
    redis: () => ({ up: limiter.up, failMode: settings.failMode }),
    channelNotices,
    keyVerdicts,
    catalogRefresh: notices('catalog-refresh', false),
    wrapFeed: (poll) =>
      new RedisChangeFeed({
        poll,
        subscriber,
        publish: (ch, message) => redis.publish(ch, message),
        channel,
        onError: (err) =>
          logger.warn(
            { reason: err instanceof Error ? err.message : String(err) },
            'Redis settings notice failed (other replicas catch up through the database poll)',
          ),
      }),
    async close() {
      limiter.close();
      subscriber.disconnect();
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
