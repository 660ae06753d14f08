"""Alert state shared by every worker: open incidents, the failed-job cursor, the last alerts.

Each change of state is one atomic Redis command or script, and only the caller that made the
change sends the alert: so an incident sends one alert and one recovery note, whichever and
however many workers evaluate it.
"""

from __future__ import annotations

import json
from typing import Any

import redis

from consumer.models import json_object
from consumer.store import keys
from consumer.store.connection import as_text

RECENT_LIMIT = 50
UNSENT_LIMIT = 100  # alerts kept for a later try while the webhook is down; the oldest go


def open_incident(r: redis.Redis, kind: str, details: dict[str, Any]) -> bool:
    """Open the incident of kind; True only for the one caller that opened it."""
    return bool(r.hsetnx(keys.ALERTS_INCIDENTS, kind, json.dumps(details)))


# HGET then HDEL in one script: the caller that closes gets what was opened, no other does.
_CLOSE = """
local details = redis.call('HGET', KEYS[1], ARGV[1])
if not details then return false end
redis.call('HDEL', KEYS[1], ARGV[1])
return details
"""


def close_incident(r: redis.Redis, kind: str) -> dict[str, Any] | None:
    """Close the incident of kind: its details for the one caller that closed it, else None."""
    details = r.eval(_CLOSE, 1, keys.ALERTS_INCIDENTS, kind)
    if not details:
        return None
    loaded: dict[str, Any] = json.loads(details)
    return loaded


def open_incidents(r: redis.Redis) -> dict[str, dict[str, Any]]:
    """Every open incident by kind, with the details it was opened with."""
    data: dict[Any, Any] = r.hgetall(keys.ALERTS_INCIDENTS)
    return {as_text(k): json.loads(v) for k, v in data.items()}


def hold_seen_since(r: redis.Redis, held: bool, now: float) -> float | None:
    """When the current 429 hold was first seen (now, if it just was); None while not held."""
    if not held:
        r.delete(keys.ALERTS_HOLD_SINCE)
        return None
    r.set(keys.ALERTS_HOLD_SINCE, repr(now), nx=True)
    value = r.get(keys.ALERTS_HOLD_SINCE)
    return now if value is None else float(as_text(value))


# The failed registry is scored by whole seconds (RQ's current_timestamp() + failure_ttl), so
# a score is not unique: the cursor is the highest score alerted plus the ids alerted at it.
# Returns the ids past the cursor and moves the cursor over them, in one step.
_NEW_FAILURES = """
local cursor = redis.call('GET', KEYS[2]) or '-inf'
local rows = redis.call('ZRANGEBYSCORE', KEYS[1], cursor, '+inf', 'WITHSCORES')
local new, top = {}, nil
for i = 1, #rows, 2 do
  if redis.call('SISMEMBER', KEYS[3], rows[i]) == 0 then table.insert(new, rows[i]) end
  top = rows[i + 1]
end
if top and #new > 0 then
  if top ~= cursor then redis.call('DEL', KEYS[3]) end
  for i = 1, #rows, 2 do
    if rows[i + 1] == top then redis.call('SADD', KEYS[3], rows[i]) end
  end
  redis.call('SET', KEYS[2], top)
end
return new
"""


def new_failures(r: redis.Redis) -> list[str]:
    """Ids of jobs that failed for good since the last call (by any worker), each once."""
    ids = r.eval(
        _NEW_FAILURES, 3, keys.RQ_FAILED, keys.ALERTS_FAILED_CURSOR, keys.ALERTS_FAILED_AT_CURSOR
    )
    return [as_text(i) for i in ids]


def remember(r: redis.Redis, entry: dict[str, Any]) -> None:
    """Keep entry ({ts, kind, state, text, delivered}) among the last RECENT_LIMIT alerts."""
    with r.pipeline() as pipe:
        pipe.lpush(keys.ALERTS_RECENT, json.dumps(entry))
        pipe.ltrim(keys.ALERTS_RECENT, 0, RECENT_LIMIT - 1)
        pipe.execute()


def keep_unsent(r: redis.Redis, entry: dict[str, Any]) -> None:
    """Keep an alert the webhook did not take, to try again later (the last UNSENT_LIMIT)."""
    with r.pipeline() as pipe:
        pipe.rpush(keys.ALERTS_UNSENT, json.dumps(entry))
        pipe.ltrim(keys.ALERTS_UNSENT, -UNSENT_LIMIT, -1)
        pipe.execute()


def take_unsent(r: redis.Redis, count: int) -> list[dict[str, Any]]:
    """Up to count kept alerts, oldest first, each handed to exactly one caller (LPOP)."""
    rows: list[Any] = r.lpop(keys.ALERTS_UNSENT, count) or []  # type: ignore[assignment]
    found = [json_object(row) for row in rows]
    return [entry for entry in found if entry is not None]  # a hand edit is dropped


def recent(r: redis.Redis, limit: int = RECENT_LIMIT) -> list[dict[str, Any]]:
    """The last limit alerts, newest first: {ts, kind, state, text, delivered} each."""
    if limit <= 0:
        return []
    rows: list[Any] = r.lrange(keys.ALERTS_RECENT, 0, limit - 1)
    return [json.loads(row) for row in rows]
