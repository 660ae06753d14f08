"""The shared rate limit: a token bucket in Redis whose rate adapts to Zeeg's 429s.

Zeeg publishes no limits, so the configured rate is a ceiling, not a promise. Every worker
takes its tokens from one bucket hash (`zc:bucket`), in one Lua script that also reads the
auth pause and the 429 hold, so passing the delivery gate costs one round trip:
- a 429 cuts the shared rate to FACTOR of a base, at most once per COOLDOWN_MS, since the
  calls already in flight answer 429 too. The base is measured against demand, not
  idleness: the rate granted over the last second when a call waited for a token in that
  second (the bucket was the bottleneck, so what got through is what Zeeg took), else the
  current rate (few calls came: an outage, a trickle, and that says nothing of the limit);
- the climb back follows a cubic centred on the base (as TCP CUBIC does): fast at first,
  flat near the base (the limit found, so the next 429 comes late), then faster and faster
  the longer calls go without a 429, so the rate is back at the configured one within
  about 1.2 x CLIMB_SECONDS of any cut, however deep. A 429 past the plateau with the same
  base (within 10%: the limit found again) doubles the time scale of the next probe past
  it, up to PROBE_MAX times, so a real limit draws fewer 429s; any other cut resets it.
  Each granted token also adds step/rate (about INCREASE of the cut rate per second);
- it never goes above the configured rate, nor below FLOOR of it (at least MIN_RATE).

Bucket hash fields: `tokens`, `at` (ms, Redis time), `rate` (the rate as of the last call),
`cut_at` (ms of the last cut, for the cooldown), `step` (the additive increase per second),
`sec`/`n`/`prev` (grants in this and the previous second), `short_at` (ms a call last waited
for a token), `base`/`since`/`k`/`probe` (the cubic: its plateau, its start in ms, the
seconds from its start to the plateau, and the time scale past the plateau).
A hash written before the adaptive rate (only tokens and at) reads as the configured rate;
one written before the cubic (no `since`) climbs straight back to it on its next call.
"""

from __future__ import annotations

import math

import redis

from consumer.store import keys

FACTOR = 0.9  # the sawtooth stays between 0.9x and 1x of the limit found
INCREASE = 0.005  # of the rate after the last cut, per second of calls without a 429
CLIMB_SECONDS = 16.0  # the cubic rises by the configured rate in this many s past its plateau
PROBE_MAX = 4  # a limit found again at the plateau is probed past up to this many times slower
FLOOR = 0.01  # of the configured rate: a run of 429s never stops delivery outright
MIN_RATE = 0.1  # per second
COOLDOWN_MS = 1000
TTL_MS = 86400 * 1000  # the learnt rate outlives an idle night, not a forgotten deployment

# Shared by both scripts: now (ms, Redis time), the stored rate clamped to the cap, the
# grants of this and the previous second, and `climb`, the cubic's rate now (C = cap / s^3).
_STATE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local cap = tonumber(ARGV[1])
local floor = math.max(MIN_RATE, cap * FLOOR)
local s = redis.call('HMGET', KEYS[1], 'tokens', 'at', 'rate', 'cut_at', 'sec', 'n', 'prev',
  'step', 'short_at', 'base', 'since', 'k', 'probe')
local rate = math.max(floor, math.min(cap, tonumber(s[3]) or cap))
local sec, n, prev = tonumber(s[5]) or 0, tonumber(s[6]) or 0, tonumber(s[7]) or 0
if math.floor(now / 1000) ~= sec then
  prev = (math.floor(now / 1000) == sec + 1) and n or 0
  sec, n = math.floor(now / 1000), 0
end
local x = (now - (tonumber(s[11]) or 0)) / 1000 - (tonumber(s[12]) or 0)
local scale = (x < 0) and CLIMB or (tonumber(s[13]) or CLIMB)
local climb = math.min(cap, (tonumber(s[10]) or cap) + cap * x * x * x / scale ^ 3)
"""
_CONSTANTS = (
    f"local MIN_RATE, FLOOR, CLIMB, PROBE_MAX = {MIN_RATE}, {FLOOR}, {CLIMB_SECONDS}, {PROBE_MAX}\n"
)

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
  rate = math.min(cap, math.max(climb, rate + (tonumber(s[8]) or cap * {INCREASE}) / rate))
else
  wait = math.ceil((1 - tokens) * 1000 / rate)
  redis.call('HSET', KEYS[1], 'short_at', now)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now),
  'rate', tostring(rate), 'sec', sec, 'n', n, 'prev', prev)
redis.call('PEXPIRE', KEYS[1], {TTL_MS})
return {{wait == 0 and 0 or 3, wait}}
"""
)

# KEYS: bucket, hold; ARGV: cap, hold_ms. Holds every worker hold_ms from now (Redis time:
# the 429's answer, as Retry-After counts), a hold only ever moving later; then cuts the rate
# (see the module docstring); returns the rate, as text.
_CUT = (
    _CONSTANTS
    + _STATE
    + f"""
local hold_ms = tonumber(ARGV[2]) or 0
if hold_ms > 0 and now + hold_ms > (tonumber(redis.call('GET', KEYS[2]) or '0') or 0) then
  redis.call('SET', KEYS[2], now + hold_ms, 'PX', hold_ms + 1000)
end
if cap <= 0 then return '0' end
if now - (tonumber(s[4]) or 0) >= {COOLDOWN_MS} then
  local base, last = math.max(rate, climb), tonumber(s[10])
  local granted = math.max(n, prev)
  local waited = now - (tonumber(s[9]) or 0) <= 1000
  if waited and granted > 0 and granted < base then base = granted end
  rate = math.max(floor, base * {FACTOR})
  base = math.max(base, rate)
  local k = ((base - rate) * CLIMB ^ 3 / cap) ^ (1 / 3)
  local probe = CLIMB
  if x >= 0 and last and math.abs(base - last) <= 0.1 * last then
    probe = math.min(PROBE_MAX * CLIMB, 2 * (tonumber(s[13]) or CLIMB))
  end
  local tokens = math.min(1, tonumber(s[1]) or 1)
  redis.call('HSET', KEYS[1], 'rate', tostring(rate), 'cut_at', now, 'tokens', tostring(tokens),
    'step', tostring(rate * {INCREASE}), 'base', tostring(base), 'since', now, 'k', tostring(k),
    'probe', tostring(probe))
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


def slow_down(
    r: redis.Redis, rate_per_second: float, key: str = keys.BUCKET, hold: float | None = None
) -> float:
    """Zeeg answered 429: cut the shared rate (once per COOLDOWN_MS); returns the new rate.

    With hold (the answer's Retry-After, in seconds), every worker is also held that long from
    now, Redis time, in the same round trip: called as the answer arrives, so the hold ends
    when Retry-After says (after the response is received), never later, never earlier.
    """
    hold_ms = math.ceil(max(0.0, hold or 0.0) * 1000)
    if rate_per_second <= 0 and not hold_ms:
        return 0.0
    return float(r.eval(_CUT, 2, key, keys.HOLD, rate_per_second, hold_ms))


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
