"""The shared rate limit: a token bucket in Redis whose rate adapts to Zeeg's 429s (AIMD).

Zeeg publishes no limits, so the configured rate is a ceiling, not a promise. Every worker
takes its tokens from one bucket hash (`zc:bucket`), in one Lua script that also reads the
auth pause and the 429 hold, so passing the delivery gate costs one round trip:
- a 429 cuts the shared rate to FACTOR times the lower of the current rate and the rate
  granted over the last second (multiplicative decrease), at most once per COOLDOWN_MS,
  since the calls already in flight answer 429 too;
- every granted token raises it by step/rate, so about `step` per second while calls flow
  (additive increase); step is INCREASE of the rate set by the last cut (of the configured
  rate before any), so the climb back takes about (1 - FACTOR) / (FACTOR * INCREASE) s
  whatever Zeeg's limit is: each 429 costs a hold, and fewer of them drain faster;
- it never goes above the configured rate, nor below FLOOR of it (at least MIN_RATE).

Bucket hash fields: `tokens`, `at` (ms, Redis time), `rate` (the current rate), `cut_at`
(ms of the last decrease), `step` (the increase per second), `sec`/`n`/`prev` (grants in this
and the previous second).
A hash written before the adaptive rate (only tokens and at) reads as the configured rate.
"""

from __future__ import annotations

import redis

from consumer.store import keys

FACTOR = 0.9  # the sawtooth stays between 0.9x and 1x of the limit found
INCREASE = 0.005  # of the rate after the last cut, per second of calls without a 429
FLOOR = 0.01  # of the configured rate: a run of 429s never stops delivery outright
MIN_RATE = 0.1  # per second
COOLDOWN_MS = 1000
TTL_MS = 86400 * 1000  # the learnt rate outlives an idle night, not a forgotten deployment

# Shared by both scripts: now (ms, Redis time) and the current rate, clamped to the cap.
_STATE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local cap = tonumber(ARGV[1])
local floor = math.max(MIN_RATE, cap * FLOOR)
local s = redis.call('HMGET', KEYS[1], 'tokens', 'at', 'rate', 'cut_at', 'sec', 'n', 'prev', 'step')
local rate = math.max(floor, math.min(cap, tonumber(s[3]) or cap))
local sec, n, prev = tonumber(s[5]) or 0, tonumber(s[6]) or 0, tonumber(s[7]) or 0
if math.floor(now / 1000) ~= sec then
  prev = (math.floor(now / 1000) == sec + 1) and n or 0
  sec, n = math.floor(now / 1000), 0
end
"""
_CONSTANTS = f"local MIN_RATE, FLOOR = {MIN_RATE}, {FLOOR}\n"

# KEYS: bucket, pause hash, hold; ARGV: cap, burst, probe (1/0). Returns {kind, wait_ms}:
# kind 0 a token was taken (or no limit), 1 paused, 2 held by a 429, 3 wait for a token.
_PASS = (
    _CONSTANTS
    + _STATE
    + f"""
if ARGV[3] ~= '1' then
  local reason = redis.call('HGET', KEYS[2], 'reason')
  if reason and reason ~= '' then return {{1, 0}} end
end
local hold = tonumber(redis.call('GET', KEYS[3]) or '0') or 0
if hold > now then return {{2, hold - now}} end
if cap <= 0 then return {{0, 0}} end
local burst = tonumber(ARGV[2])
local at = tonumber(s[2]) or now
local tokens = math.min(burst, (tonumber(s[1]) or burst) + math.max(0, now - at) * rate / 1000)
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
  n = n + 1
  rate = math.min(cap, rate + (tonumber(s[8]) or cap * {INCREASE}) / rate)
else
  wait = math.ceil((1 - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now),
  'rate', tostring(rate), 'sec', sec, 'n', n, 'prev', prev)
redis.call('PEXPIRE', KEYS[1], {TTL_MS})
return {{wait == 0 and 0 or 3, wait}}
"""
)

# KEYS: bucket; ARGV: cap. Cuts the rate (see the module docstring); returns it, as text.
_CUT = (
    _CONSTANTS
    + _STATE
    + f"""
if now - (tonumber(s[4]) or 0) >= {COOLDOWN_MS} then
  local granted = math.max(n, prev)
  if granted > 0 and granted < rate then rate = granted end
  rate = math.max(floor, rate * {FACTOR})
  local tokens = math.min(1, tonumber(s[1]) or 1)
  redis.call('HSET', KEYS[1], 'rate', tostring(rate), 'cut_at', now, 'tokens', tostring(tokens),
    'step', tostring(rate * {INCREASE}))
  redis.call('PEXPIRE', KEYS[1], {TTL_MS})
end
return tostring(rate)
"""
)

GO, PAUSED, HELD, NO_TOKEN = 0, 1, 2, 3


def pass_gate(
    r: redis.Redis, rate_per_second: float, burst: int, *, probe: bool = False
) -> tuple[int, float]:
    """One round trip: (GO, 0) with a token taken, (PAUSED, 0), or (HELD | NO_TOKEN, wait s).

    The auth pause is ignored for the probe. A rate of 0 or less means unlimited. Time comes
    from the Redis server, so workers on machines with skewed clocks agree.
    """
    args = (keys.BUCKET, keys.PAUSE, keys.HOLD, rate_per_second, max(1, burst), int(probe))
    kind, wait_ms = r.eval(_PASS, 3, *args)
    return int(kind), int(wait_ms) / 1000.0


def slow_down(r: redis.Redis, rate_per_second: float, key: str = keys.BUCKET) -> float:
    """Zeeg answered 429: cut the shared rate (once per COOLDOWN_MS); returns the new rate."""
    if rate_per_second <= 0:
        return 0.0
    return float(r.eval(_CUT, 1, key, rate_per_second))


def current_rate(r: redis.Redis, configured: float | None = None) -> float:
    """The shared rate now, in calls per second.

    With configured (the configured rate), the answer is clamped to it, and is the configured
    rate itself while no worker has taken a token yet. Without it, 0.0 means no state yet.
    """
    stored = r.hget(keys.BUCKET, "rate")
    try:
        rate = float(stored) if stored is not None else None
    except ValueError:  # a hand edit: the configured rate applies
        rate = None
    if configured is None:
        return rate or 0.0
    if configured <= 0:
        return 0.0
    return configured if rate is None else max(0.0, min(configured, rate))
