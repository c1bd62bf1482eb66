/**
 * The Lua scripts behind RedisLimiter. Each runs atomically in Redis (no other command interleaves), so a
 * check-and-count across replicas is as exact as the one-node limiter's synchronous step. The clock is
 * Redis's (TIME), one clock for every replica: their own clocks may disagree by seconds.
 *
 * A rate window is one hash per key and counter: field = end of a 100 ms bucket (ms), value = what was
 * counted in it; the same buckets as sliding-window.ts (stamped with their end, kept until end + 60 s), so
 * the answers are the same as one node's. A hash holds at most 601 fields whatever the traffic; it expires a
 * window after its last use (memory follows active keys).
 *
 * Keys share the hash tag `{keyId}`, so a Redis Cluster keeps one key's counters on one shard.
 */

const COMMON = `
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- The window's buckets, oldest first, with the ones that left it deleted; and their sum.
local function load(key, now, window)
  local flat = redis.call('HGETALL', key)
  local ends, amounts, stale = {}, {}, {}
  for i = 1, #flat, 2 do
    local e = tonumber(flat[i])
    if e <= now - window then
      stale[#stale + 1] = flat[i]
    else
      ends[#ends + 1] = e
      amounts[e] = tonumber(flat[i + 1])
    end
  end
  if #stale > 0 then redis.call('HDEL', key, unpack(stale)) end
  table.sort(ends)
  local sum = 0
  for _, e in ipairs(ends) do sum = sum + amounts[e] end
  return { ends = ends, amounts = amounts, sum = sum }
end

-- ms until the sum has dropped to target or below, as buckets leave.
local function until_at_most(w, target, now, window)
  local sum = w.sum
  for _, e in ipairs(w.ends) do
    if sum <= target then break end
    sum = sum - w.amounts[e]
    if sum <= target then return math.max(0, e + window - now) end
  end
  return 0
end

local function until_oldest_leaves(w, now, window)
  if #w.ends == 0 then return 0 end
  return math.max(0, w.ends[1] + window - now)
end
`;

/**
 * KEYS: requests hash, tokens hash, quota counter.
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
  local v = redis.call('GET', KEYS[3])
  if not v then return { 5, 0, 0, 0, 0, 0, 0, 0 } end
  spent = tonumber(v)
end
local req = { ends = {}, amounts = {}, sum = 0 }
local tok = { ends = {}, amounts = {}, sum = 0 }
if rpm >= 0 then req = load(KEYS[1], now, window) end
if tpm >= 0 then tok = load(KEYS[2], now, window) end
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
local b = math.ceil(now / bucket_ms) * bucket_ms
local field = string.format('%d', b)
-- Same bucket, or later than the newest (one clock, so never earlier).
local function add(w, key, amount)
  redis.call('HINCRBY', key, field, amount)
  redis.call('PEXPIRE', key, window + bucket_ms)
  if not w.amounts[b] then
    w.ends[#w.ends + 1] = b
    w.amounts[b] = 0
  end
  w.amounts[b] = w.amounts[b] + amount
  w.sum = w.sum + amount
end
if rpm >= 0 then add(req, KEYS[1], 1) end
if tpm >= 0 then add(tok, KEYS[2], prompt) end
return answer(0, 0, field)
`;

/**
 * A request ended. KEYS: tokens hash, quota counter. ARGV: bucket (0: none), token correction, cost
 * nano-USD. The correction applies while its bucket is in the window; the cost only to a counter that
 * exists (a missing one is seeded from the database, where this cost is recorded too).
 */
export const SETTLE_SCRIPT = `
local b, delta, cost = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
if b ~= '0' and delta ~= 0 and redis.call('HEXISTS', KEYS[1], b) == 1 then
  redis.call('HINCRBY', KEYS[1], b, delta)
end
if cost > 0 and redis.call('EXISTS', KEYS[2]) == 1 then redis.call('INCRBY', KEYS[2], cost) end
return 1
`;

/** KEYS: quota counter. ARGV: spend from the database, seconds to live. Sets it unless another replica did. */
export const SEED_SCRIPT = `
redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2])
return 1
`;
