"""Short claims on one record's erasure, so two runs of an event never record it twice."""

from __future__ import annotations

import redis

from consumer.store import keys

# Delete the claim only if it is still ours: an expired claim may have been taken since.
# Free, or held by an earlier run of the same job (RQ re-runs a job only once that run died).
_TAKE = """
local held = redis.call('get', KEYS[1])
if held and held ~= ARGV[1] then return 0 end
redis.call('set', KEYS[1], ARGV[1], 'EX', ARGV[2])
return 1
"""
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end"


def take(r: redis.Redis, obj: str, record_id: str, owner: str, ttl: int) -> bool:
    """Claim record_id of obj for owner (a job id) for ttl seconds; False if another holds it."""
    return bool(r.eval(_TAKE, 1, keys.claim(obj, record_id), owner, ttl))


def release(r: redis.Redis, obj: str, record_id: str, owner: str) -> None:
    """Give the claim back, unless it expired and another run holds it now."""
    r.eval(_RELEASE, 1, keys.claim(obj, record_id), owner)
