"""An event's trail: its history (runs, attempts, outcomes, replays, operators' notes) as a
list of JSON entries, kept as long as the event's hash (store.events re-exports these).

The trail is created by its first entry after intake (the first run, or an operator's note):
an event waiting for its job has none, and its `received` entry is read from the hash's
`received_at`. Trails written before 0.3.0 begin with a stored `received` entry instead.
"""

from __future__ import annotations

import json
from typing import Any

import redis
from redis.client import Pipeline

from consumer.models import json_object, stored_seconds
from consumer.store import keys

DAY = 86400
# The expiry of a trail without one (created by this push): the event hash's remaining TTL,
# so both expire together; 40 days if the hash has none. KEYS: trail, event hash. ARGV:
# the entry, the fallback TTL in seconds.
_PUSH = """
redis.call('RPUSH', KEYS[1], ARGV[1])
if redis.call('PTTL', KEYS[1]) == -1 then
  local ms = redis.call('PTTL', KEYS[2])
  if ms > 0 then redis.call('PEXPIRE', KEYS[1], ms) else redis.call('EXPIRE', KEYS[1], ARGV[2]) end
end
"""


def append_trail(
    r: redis.Redis | Pipeline, source: str, event_id: str, entry: dict[str, Any], ttl: int = 0
) -> None:
    """Add one entry to an event's trail (ttl: its new expiry; 0 keeps the event's)."""
    key = keys.trail(source, event_id)
    text = json.dumps(entry, separators=(",", ":"))
    if not ttl:
        r.eval(_PUSH, 2, key, keys.event(source, event_id), text, 40 * DAY)
        return
    # On a plain client, one round trip for both commands (a caller's pipe batches anyway).
    pipe = r if isinstance(r, Pipeline) else r.pipeline(transaction=False)
    pipe.rpush(key, text)
    pipe.expire(key, ttl)
    if pipe is not r:
        pipe.execute()


def note(r: redis.Redis, source: str, event_id: str, what: str, now: float, **fields: Any) -> None:
    """An operator's action on the trail (a manual erasure, a resume): what, who, why."""
    append_trail(r, source, event_id, {"at": now, "what": what, **fields})


def trail(r: redis.Redis, source: str, event_id: str) -> list[dict[str, Any]]:
    """An event's history, oldest first, beginning with its `received` entry."""
    with r.pipeline(transaction=False) as pipe:
        pipe.lrange(keys.trail(source, event_id), 0, -1)
        pipe.hget(keys.event(source, event_id), "received_at")
        stored, received = pipe.execute()
    found = [_trail_entry(e) for e in stored]
    at = stored_seconds(received)
    if at is not None and not (found and found[0].get("what") == "received"):
        # Created at the first run (0.3.0 on): the received entry is the hash's time.
        found.insert(0, {"at": at, "what": "received"})
    return found


def _trail_entry(text: str) -> dict[str, Any]:
    """One trail entry; one that is not a JSON object (a hand edit) is kept raw, not fatal."""
    entry = json_object(text)
    return entry if entry is not None else {"what": "unreadable", "raw": text}


def attempts(r: redis.Redis, source: str, event_id: str) -> list[dict[str, Any]]:
    """The calls made for an event, oldest first: time, object, record, status or error."""
    return [e for e in trail(r, source, event_id) if e.get("what") == "attempt"]
