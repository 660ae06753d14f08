"""Delivery-wide holds shared by every worker: the auth pause and the 429 hold-until."""

from __future__ import annotations

from dataclasses import dataclass

import redis

from consumer.store import keys


@dataclass(frozen=True)
class PauseState:
    """Delivery is paused (until an operator or a successful probe resumes it)."""

    reason: str
    since: float
    by: str


def pause(r: redis.Redis, reason: str, now: float, by: str = "worker") -> bool:
    """Pause delivery; returns False if it was already paused (the first reason stays)."""
    created = r.hsetnx(keys.PAUSE, "reason", reason)
    if created:
        r.hset(keys.PAUSE, mapping={"since": repr(now), "by": by})
    return bool(created)


def resume(r: redis.Redis) -> bool:
    """Lift the pause; returns False if delivery was not paused."""
    return bool(r.delete(keys.PAUSE))


def state(r: redis.Redis) -> PauseState | None:
    """The current pause, or None while delivery runs."""
    data: dict[str, str] = r.hgetall(keys.PAUSE)  # type: ignore[assignment]
    if not data.get("reason"):
        return None
    return PauseState(data["reason"], float(data.get("since") or 0), data.get("by", ""))


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
