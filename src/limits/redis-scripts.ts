/**
 * The Lua scripts behind RedisLimiter. Each runs atomically in Redis (no other command interleaves), so a
 * check-and-count across replicas is as exact as the one-node limiter's synchronous step. The clock is
 * Redis's (TIME), one clock for every replica: their own clocks may disagree by seconds.
 *
 * A rate window is a hash per key and counter (field = end of a 100 ms bucket in ms → what was counted in
 * it, plus the running sum) and a sorted set of those ends: the same buckets as sliding-window.ts (stamped
 * with their end, kept until end + 60 s), so the answers are the same as one node's. An admission touches
 * only the buckets that leave the window (O(log n)); at most 601 buckets whatever the traffic; both expire a
 * window after the key's last request (memory follows active keys).
 *
 * Keys share the hash tag `{keyId}`, so a Redis Cluster keeps one key's counters on one shard.
 */

const COMMON = `
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- A window: hash h (field = bucket end -> amount, and 's' = the sum) and sorted set z of the bucket ends.
-- Drops the buckets that left it (usually none or one: O(log n), not O(buckets)) and returns the sum.
local function load(h, z, now, window)
  local cutoff = now - window
  local sum = tonumber(redis.call('HGET', h, 's') or '0')
  local old = redis.call('ZRANGEBYSCORE', z, '-inf', cutoff)
  if #old > 0 then
    local amounts = redis.call('HMGET', h, unpack(old))
    for _, a in ipairs(amounts) do sum = sum - (tonumber(a) or 0) end
    redis.call('HDEL', h, unpack(old))
    redis.call('ZREMRANGEBYSCORE', z, '-inf', cutoff)
    if redis.call('ZCARD', z) == 0 then sum = 0 end -- no drift from corrections
    redis.call('HSET', h, 's', sum)
  end
  return { h = h, z = z, sum = sum }
end

-- ms until the sum has dropped to target or below, as buckets leave (walked oldest first, in chunks:
-- only refusals walk, and an rpm refusal usually needs the first bucket alone).
local function until_at_most(w, target, now, window)
  local sum = w.sum
  local from = 0
  while sum > target do
    local ends = redis.call('ZRANGE', w.z, from, from + 31)
    if #ends == 0 then return 0 end
    local amounts = redis.call('HMGET', w.h, unpack(ends))
    for i, e in ipairs(ends) do
      sum = sum - (tonumber(amounts[i]) or 0)
      if sum <= target then return math.max(0, tonumber(e) + window - now) end
    end
    from = from + 32
  end
  return 0
end

local function until_oldest_leaves(w, now, window)
  if not w.z then return 0 end
  local first = redis.call('ZRANGE', w.z, 0, 0)
  if #first == 0 then return 0 end
  return math.max(0, tonumber(first[1]) + window - now)
end
`;

/**
 * KEYS: requests hash, requests bucket set, tokens hash, tokens bucket set, quota counter.
 * ARGV: rpm (-1: none), tpm (-1: none), prompt tokens, quota nano-USD (-1: none), window ms, bucket ms.
 * Returns { status, waitMs, requestsUsed, requestsResetMs, tokensUsed, tokensResetMs, bucket, spent }:
 * status 0 admitted (counted; bucket is where its tokens went), 1 rpm reached, 2 tpm reached, 3 the prompt
 * alone is more than tpm, 4 quota used up, 5 the quota counter is missing (seed it from the database).
 * The *Used figures are after counting (admitted) or as they stand (refused).
 */
export const TAKE_SCRIPT = `${COMMON}
local rpm, tpm, prompt, quota = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local window, bucket_ms = tonumber(ARGV[5]), tonumber(ARGV[6])
local now = now_ms()
local spent = 0
if quota >= 0 then
  local v = redis.call('GET', KEYS[5])
  if not v then return { 5, 0, 0, 0, 0, 0, 0, 0 } end
  spent = tonumber(v)
end
local req = { sum = 0 }
local tok = { sum = 0 }
if rpm >= 0 then req = load(KEYS[1], KEYS[2], now, window) end
if tpm >= 0 then tok = load(KEYS[3], KEYS[4], now, window) end
local function answer(status, wait, b)
  return { status, wait, req.sum, until_oldest_leaves(req, now, window), tok.sum,
    until_oldest_leaves(tok, now, window), b, spent }
end
if quota >= 0 and spent >= quota then return answer(4, 0, 0) end
if rpm >= 0 and req.sum >= rpm then return answer(1, until_at_most(req, rpm - 1, now, window), 0) end
if tpm >= 0 and tok.sum + prompt > tpm then
  if prompt > tpm then return answer(3, window, 0) end
  return answer(2, until_at_most(tok, tpm - prompt, now, window), 0)
end
-- One clock (Redis's), so a new bucket is never older than the newest.
local field = string.format('%d', math.ceil(now / bucket_ms) * bucket_ms)
local function add(w, amount)
  redis.call('HINCRBY', w.h, field, amount)
  redis.call('HINCRBY', w.h, 's', amount)
  redis.call('ZADD', w.z, field, field)
  redis.call('PEXPIRE', w.h, window + bucket_ms)
  redis.call('PEXPIRE', w.z, window + bucket_ms)
  w.sum = w.sum + amount
end
if rpm >= 0 then add(req, 1) end
if tpm >= 0 then add(tok, prompt) end
return answer(0, 0, field)
`;

/**
 * A request ended. KEYS: tokens hash, quota counter, quota reservations. ARGV: bucket (0: none), token
 * correction, cost nano-USD, reservation member ('': none). The correction applies while its bucket is in the
 * window; the cost only to a counter that exists (a missing one is seeded from the database, where this cost
 * is recorded too); the request's reservation is removed.
 */
export const SETTLE_SCRIPT = `
local b, delta, cost = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
if b ~= '0' and delta ~= 0 and redis.call('HEXISTS', KEYS[1], b) == 1 then
  redis.call('HINCRBY', KEYS[1], b, delta)
  redis.call('HINCRBY', KEYS[1], 's', delta)
end
if cost > 0 and redis.call('EXISTS', KEYS[2]) == 1 then redis.call('INCRBY', KEYS[2], cost) end
if ARGV[4] and ARGV[4] ~= '' then redis.call('ZREM', KEYS[3], ARGV[4]) end
return 1
`;

/**
 * A routed request reserves the most it can cost against the key's quota (docs/limits.md, "Reservations").
 * KEYS: quota counter, reservations (sorted set: member '<request id>:<amount>', score = when it expires).
 * ARGV: quota nano-USD, the request's bound, request id, time to live ms. Expired reservations (of a replica
 * that died with requests in flight) are dropped first. Returns { status, amount }: 1 reserved `amount` (the
 * bound capped at what is left), 0 nothing is left, -1 the counter is missing (let through: admission just
 * checked it).
 */
export const RESERVE_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local v = redis.call('GET', KEYS[1])
if not v then return { -1, 0 } end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local reserved = 0
for _, m in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
  reserved = reserved + (tonumber(string.match(m, ':(%d+)$')) or 0)
end
local left = tonumber(ARGV[1]) - tonumber(v) - reserved
if left <= 0 then return { 0, 0 } end
local amount = math.min(tonumber(ARGV[2]), left)
local ttl = tonumber(ARGV[4])
redis.call('ZADD', KEYS[2], now + ttl, ARGV[3] .. ':' .. string.format('%d', amount))
redis.call('PEXPIRE', KEYS[2], ttl)
return { 1, amount }
`;

/** KEYS: quota counter. ARGV: spend from the database, seconds to live. Sets it unless another replica did. */
export const SEED_SCRIPT = `
redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2])
return 1
`;
