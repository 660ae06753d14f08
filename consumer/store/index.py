"""The lookup indexes: (source, external id) -> its events, and (object, record id) and
(source, external id) -> their audit entries, each a sorted set.

They are written in the transactions that write what they point at (the intake script, the
outcome's MULTI) and trimmed with it (store.retention). A member can still outlive its entry
(an approximate trim of the event log, a crash between two batches): readers skip it.
Deployments that stored events before the indexes existed backfill them once (backfill).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping

import redis
from redis.client import Pipeline

from consumer.models import Event, Outcome, stored_seconds
from consumer.store import keys

DAY = 86400
KINDS = ("events", "audit")

# Runs in the outcome's MULTI right after its XADD: the newest entry is the one just added,
# so its id is indexed under each key (a MULTI cannot hand one command's reply to the next).
_INDEX_NEWEST = """
local newest = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)[1][1]
local ms = tonumber(string.match(newest, '^(%d+)'))
for i = 2, #KEYS do redis.call('ZADD', KEYS[i], ms, newest) end
return newest
"""


def add_event(
    pipe: Pipeline,
    event_source: str,
    external_id: str,
    event_id: str,
    now: float,
    retention_days: float,
) -> None:
    """Queue the index writes of a new event (in the intake's recorded writes).

    The key lives as long as its newest event, and sheds its members past retention, so
    members the event log's approximate trim left behind do not pile up.
    """
    key = keys.event_index(event_source, external_id)
    pipe.zadd(key, {event_id: now})
    pipe.zremrangebyscore(key, "-inf", f"({now - retention_days * DAY!r}")
    pipe.expire(key, int(retention_days * DAY))
    pipe.sadd(keys.INDEX_SOURCES, event_source)


def audit_keys(source: str, external_id: str, obj: str, record_id: str | None) -> list[str]:
    """The index keys an audit entry of these fields is a member of."""
    found = [keys.audit_by_external(source, external_id)] if external_id else []
    return found + ([keys.audit_by_record(obj, record_id.lower())] if record_id else [])


def add_audit(pipe: Pipeline, event: Event, outcome: Outcome) -> None:
    """Queue the index writes of the audit entry just queued on pipe (in its MULTI)."""
    index = audit_keys(event.source, event.external_id, outcome.object, outcome.record_id)
    pipe.eval(_INDEX_NEWEST, 1 + len(index), keys.AUDIT, *index)
    pipe.sadd(keys.INDEX_SOURCES, event.source)
    pipe.sadd(keys.INDEX_OBJECTS, outcome.object)


def event_members(rows: Iterable[tuple[str, Mapping[str, str]]]) -> dict[str, float]:
    """Per index key, the latest received time among these (trimmed) event log entries.

    Trimming removes every member of the key scored up to it: an event id sent again after
    its dedupe expired is indexed once, with its later time, and must stay.
    """
    found: dict[str, float] = {}
    for entry_id, f in rows:
        if f.get("external_id") and f.get("event_id"):
            key = keys.event_index(f.get("source", ""), f["external_id"])
            found[key] = max(found.get(key, 0.0), _received(entry_id, f))
    return found


def _received(entry_id: str, fields: Mapping[str, str]) -> float:
    """An event log entry's received time; a hand-edited one falls back to its stream id's."""
    return stored_seconds(fields.get("received_at")) or int(entry_id.split("-")[0]) / 1000


def audit_members(entries: Iterable[tuple[str, Mapping[str, str]]]) -> dict[str, list[str]]:
    """Per index key, the stream ids these audit entries are indexed under."""
    found: dict[str, list[str]] = {}
    for entry_id, f in entries:
        record_id = f.get("record_id") or None
        for key in audit_keys(
            f.get("source", ""), f.get("external_id", ""), f.get("object", ""), record_id
        ):
            found.setdefault(key, []).append(entry_id)
    return found


def drop_events(pipe: Pipeline, members: Mapping[str, float]) -> None:
    """Queue the removal of event index members up to each key's time (see event_members)."""
    for key, until in members.items():
        pipe.zremrangebyscore(key, "-inf", repr(until))


def drop_audit(pipe: Pipeline, members: Mapping[str, list[str]]) -> None:
    """Queue the removal of audit index members (their entries are being trimmed)."""
    for key, names in members.items():
        pipe.zrem(key, *names)


def is_ready(r: redis.Redis, kind: str) -> bool:
    """Whether the index of kind (events or audit) covers every stored entry."""
    return bool(r.hexists(keys.INDEX_READY, kind))


def backfill(
    r: redis.Redis,
    kind: str,
    retention_days: float,
    budget: int = 50_000,
    batch: int = 1000,
    *,
    again: bool = False,
) -> bool:
    """Index up to budget stored entries of kind from where the last call stopped; True
    once every entry is indexed (then is_ready). Idempotent: ZADD of a member is a no-op.

    again: a whole pass from the oldest entry even if complete (events an older version's
    process accepted during a rolling upgrade, after the first pass).
    """
    if is_ready(r, kind) and not again:
        return True
    stream = keys.EVENT_LOG if kind == "events" else keys.AUDIT
    cursor = "-" if again else str(r.hget(keys.INDEX_CURSOR, kind) or "-")
    while budget > 0:
        rows: list[tuple[str, dict[str, str]]] = r.xrange(  # type: ignore[assignment]
            stream, cursor if cursor == "-" else f"({cursor}", "+", count=batch
        )
        with r.pipeline(transaction=False) as pipe:
            _backfill_rows(pipe, kind, rows, retention_days)
            if rows:
                cursor = rows[-1][0]
                pipe.hset(keys.INDEX_CURSOR, kind, cursor)
            if len(rows) < batch:
                pipe.hset(keys.INDEX_READY, kind, repr(time.time()))
            pipe.execute()
        if len(rows) < batch:
            return True
        budget -= len(rows)
    return False


def _backfill_rows(
    pipe: Pipeline, kind: str, rows: list[tuple[str, dict[str, str]]], retention_days: float
) -> None:
    """Queue the index writes of stored rows, as intake and the outcome's MULTI write them."""
    if kind == "audit":
        for key, ids in audit_members(rows).items():
            pipe.zadd(key, {i: int(i.split("-")[0]) for i in ids})
        _names(pipe, keys.INDEX_SOURCES, {f.get("source", "") for _, f in rows})
        _names(pipe, keys.INDEX_OBJECTS, {f.get("object", "") for _, f in rows})
        return
    for entry_id, f in rows:
        if f.get("external_id") and f.get("event_id"):
            received = _received(entry_id, f)
            add_event(
                pipe, f.get("source", ""), f["external_id"], f["event_id"], received, retention_days
            )


def _names(pipe: Pipeline, key: str, names: set[str]) -> None:
    names.discard("")
    if names:
        pipe.sadd(key, *names)
