// The greylisting decision as one Lua script (SPEC §2.1 step 6): one round
// trip, atomic, and on Redis' clock (TIME), so every MX sharing the Redis
// agrees on the time and a retry at another MX is recognised.
//
// KEYS[1]  the triplet: hash with f = first attempt, p = last pass
// KEYS[2]  the client network's auto-whitelist: hash with n = passes, l = last counted
//          (both keys carry the same {client-net} hash tag: one Redis Cluster slot)
// ARGV     delay, retry_window, max_age, auto_whitelist (0 = off), auto_whitelist_interval
// Returns  {"defer", seconds_left} | {"pass", seconds_delayed} (first pass after a
//          delay) | {"known", 0} (passed before) | {"awl", passes}
#pragma once

namespace mailsan::policyd {

inline constexpr const char* kGreylistScript = R"lua(
local now = tonumber(redis.call('TIME')[1])
local delay = tonumber(ARGV[1])
local retry_window = tonumber(ARGV[2])
local max_age = tonumber(ARGV[3])
local awl_limit = tonumber(ARGV[4])
local awl_interval = tonumber(ARGV[5])

local function count_pass()
  if awl_limit <= 0 then return end
  local last = tonumber(redis.call('HGET', KEYS[2], 'l') or '-1')
  if last < 0 or now - last >= awl_interval then
    redis.call('HINCRBY', KEYS[2], 'n', 1)
    redis.call('HSET', KEYS[2], 'l', now)
  end
  redis.call('EXPIRE', KEYS[2], max_age)
end

if awl_limit > 0 then
  local passes = tonumber(redis.call('HGET', KEYS[2], 'n') or '0')
  if passes >= awl_limit then
    count_pass()
    return {'awl', passes}
  end
end

local entry = redis.call('HMGET', KEYS[1], 'f', 'p')
local first = tonumber(entry[1])
local passed = tonumber(entry[2])

if first == nil or (passed == nil and now - first > retry_window) then
  redis.call('HSET', KEYS[1], 'f', now)
  redis.call('HDEL', KEYS[1], 'p')
  redis.call('EXPIRE', KEYS[1], retry_window)
  if delay > 0 then
    return {'defer', delay}
  end
  first = now
  passed = nil
end

if passed == nil then
  local waited = now - first
  if waited < delay then
    return {'defer', delay - waited}
  end
  redis.call('HSET', KEYS[1], 'p', now)
  redis.call('EXPIRE', KEYS[1], max_age)
  count_pass()
  return {'pass', waited}
end

redis.call('HSET', KEYS[1], 'p', now)
redis.call('EXPIRE', KEYS[1], max_age)
count_pass()
return {'known', 0}
)lua";

}  // namespace mailsan::policyd
