"""A token bucket in Redis (one Lua script), shared by every worker on every machine."""

from __future__ import annotations

import redis

from consumer.store import keys

# KEYS[1] bucket hash; ARGV: rate per second, burst, now (ms from Redis TIME, read in-script).
# Returns 0 when a token was taken, else the milliseconds until one is available.
_TAKE = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
tokens = math.min(burst, tokens + (now - at) * rate / 1000)
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = math.ceil((1 - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000)
return wait
"""


def take(r: redis.Redis, rate_per_second: float, burst: int, key: str = keys.BUCKET) -> float:
    """Take one token: 0.0 if granted, else the seconds to wait before trying again.

    Time comes from the Redis server, so workers on machines with skewed clocks agree.
    A rate of 0 or less means unlimited.
    """
    if rate_per_second <= 0:
        return 0.0
    wait_ms = r.eval(_TAKE, 1, key, rate_per_second, max(1, burst))
    return int(wait_ms) / 1000.0
