"""An event's trail: its history (runs, attempts, outcomes, replays, operators' notes) as a
list of JSON entries, kept as long as the event's hash (store.events re-exports these).

The trail is created by its first entry after intake (the first run, or an operator's note):
an event waiting for its job has none, and its `received` entry is read from the hash's
`received_at`. Trails written before 0.3.0 begin with a stored `received` entry instead.
Once the event is done its trail is folded into one string (store.trail_fold); every
reader here reads both forms, and the next entry unfolds it.
"""

from __future__ import annotations

import json
from typing import Any

import redis
from redis.client import Pipeline

from consumer.models import json_object, stored_seconds
from consumer.store import keys, trail_fold

DAY = 86400
# Add an entry: KEYS: trail, event hash. ARGV: the entry, the fallback
# TTL in seconds, the trail's new TTL ("0": keep it). A folded trail (a done event's) is
# unfolded first. A trail created by this push takes the event hash's remaining TTL, so
# both expire together; 40 days if the hash has none.
_PUSH = (
    trail_fold.UNFOLD
    + """
local function push()
  unfold()
  redis.call('RPUSH', KEYS[1], ARGV[1])
  if ARGV[3] ~= '0' then redis.call('EXPIRE', KEYS[1], ARGV[3]); return end
  if redis.call('PTTL', KEYS[1]) == -1 then
    local ms = redis.call('PTTL', KEYS[2])
    if ms <= 0 then ms = ARGV[2] * 1000 end
    redis.call('PEXPIRE', KEYS[1], ms)
  end
end
push()
"""
)
# The same, then the trail folded (the event is done: trail_fold).
_PUSH_AND_FOLD = trail_fold.FOLD + _PUSH + "return fold()\n"


def append_trail(
    r: redis.Redis | Pipeline, source: str, event_id: str, entry: dict[str, Any], ttl: int = 0
) -> None:
    """Add one entry to an event's trail (ttl: its new expiry; 0 keeps the event's)."""
    _push(r, _PUSH, source, event_id, entry, ttl)


def append_and_fold(
    r: redis.Redis | Pipeline, source: str, event_id: str, entry: dict[str, Any]
) -> None:
    """Add the last entry of a done event's trail and fold the trail into one string."""
    _push(r, _PUSH_AND_FOLD, source, event_id, entry, 0)


def _push(
    r: redis.Redis | Pipeline,
    script: str,
    source: str,
    event_id: str,
    entry: dict[str, Any],
    ttl: int,
) -> None:
    text = json.dumps(entry, separators=(",", ":"))
    trail_key, event_key = keys.trail(source, event_id), keys.event(source, event_id)
    r.eval(script, 2, trail_key, event_key, text, 40 * DAY, ttl)


def note(r: redis.Redis, source: str, event_id: str, what: str, now: float, **fields: Any) -> None:
    """An operator's action on the trail (a manual erasure, a resume): what, who, why."""
    append_trail(r, source, event_id, {"at": now, "what": what, **fields})


def trail(r: redis.Redis, source: str, event_id: str) -> list[dict[str, Any]]:
    """An event's history, oldest first, beginning with its `received` entry."""
    key = keys.trail(source, event_id)
    with r.pipeline(transaction=False) as pipe:
        pipe.type(key)
        pipe.lrange(key, 0, -1)
        pipe.get(key)
        pipe.hmget(keys.event(source, event_id), ["received_at", trail_fold.FIELD])
        # The command of the other type fails (WRONGTYPE): one round trip whatever it is.
        kind, listed, folded, (received, in_hash) = pipe.execute(raise_on_error=False)
    stored = trail_fold.expand(in_hash or "") + trail_fold.entries(listed if kind == "list" else [])
    if kind == "string":
        stored = trail_fold.expand(folded)
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
