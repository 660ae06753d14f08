"""Delivery-wide holds shared by every worker: the auth pause, the auth probe slot, 429 holds.

A pause set by a worker after a 401/403 has by == AUTO and is lifted by a successful probe;
a pause set by an operator (any other `by`) is lifted only by an operator. Lifting a pause
wakes the jobs waiting for it, which writes RQ's registries: see consumer.queue.resume().
"""

from __future__ import annotations

from dataclasses import dataclass

import redis

from consumer.models import stored_seconds
from consumer.store import keys

AUTO = "worker"


@dataclass(frozen=True)
class PauseState:
    """Delivery is paused (until an operator or a successful probe resumes it)."""

    reason: str
    since: float
    by: str


# One script, so no reader (and no crash) ever sees a reason without its time and author.
_PAUSE = """
if redis.call('HSETNX', KEYS[1], 'reason', ARGV[1]) == 0 then
  return 0
end
redis.call('HSET', KEYS[1], 'since', ARGV[2], 'by', ARGV[3])
return 1
"""


def pause(r: redis.Redis, reason: str, now: float, by: str = AUTO) -> bool:
    """Pause delivery; returns False if it was already paused (the first reason stays)."""
    return bool(r.eval(_PAUSE, 1, keys.PAUSE, reason, repr(now), by))


def note_waiting(r: redis.Redis, job_id: str) -> None:
    """Remember a job scheduled to wait for the pause, so queue.resume() can wake it."""
    r.sadd(keys.WAITING, job_id)


def state(r: redis.Redis) -> PauseState | None:
    """The current pause, or None while delivery runs."""
    data: dict[str, str] = r.hgetall(keys.PAUSE)  # type: ignore[assignment]
    if not data.get("reason"):
        return None
    # A since no time can read (a hand edit) must not take status down with it.
    since = stored_seconds(data.get("since")) or 0.0
    return PauseState(data["reason"], since, data.get("by", ""))


def claim_probe(r: redis.Redis, every_seconds: float) -> bool:
    """Take the auth probe slot for every_seconds; False if another probe had it already."""
    return bool(r.set(keys.PROBE, "1", nx=True, px=max(1, int(every_seconds * 1000))))


def probe_due_in(r: redis.Redis) -> float:
    """Seconds until the next auth probe may run (0 if one may run now)."""
    ttl_ms = int(r.pttl(keys.PROBE))
    return max(0.0, ttl_ms / 1000.0)


_HOLD_LATER = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local wanted = tonumber(ARGV[1])
if wanted > current then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return wanted
end
return current
"""


def hold_until(r: redis.Redis, until: float, now: float) -> None:
    """No worker calls Zeeg before until (epoch seconds); a hold only ever moves later."""
    ttl_ms = int(max(0.0, until - now) * 1000) + 1000
    r.eval(_HOLD_LATER, 1, keys.HOLD, int(until * 1000), ttl_ms)


def held_for(r: redis.Redis, now: float) -> float:
    """Seconds until calls to Zeeg may resume (0 if not held)."""
    value = r.get(keys.HOLD)
    if value is None:
        return 0.0
    return max(0.0, int(str(value)) / 1000.0 - now)
