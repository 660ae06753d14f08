"""The mapping store: (source, object, external_id) -> record ids, each with linked_at.

One small hash per external id (record id -> linked_at as epoch seconds): about 150 bytes
by `MEMORY USAGE` for one link, kept in Redis's compact listpack encoding.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import redis
from redis.client import Pipeline

from consumer.models import Mapping
from consumer.store import audit, keys

# Per row i: KEYS[2i-1] mapping hash, KEYS[2i] tombstone; ARGV[3i-2..3i] record id, linked_at,
# "1" to keep an existing linked_at. Returns per row {1 if new, linked_at in effect, tombstone
# or false}. Atomic, so a link and its tombstone check cannot interleave with an erasure; many
# rows a call because client-side command packing, not Redis, bounds the import rate.
_LINK = """
local out = {}
for i = 1, #KEYS / 2 do
  local key, rid, at = KEYS[2 * i - 1], ARGV[3 * i - 2], ARGV[3 * i - 1]
  local new
  if ARGV[3 * i] == '1' then
    new = redis.call('HSETNX', key, rid, at)
  else
    new = redis.call('HSET', key, rid, at)
  end
  out[3 * i - 2] = new
  out[3 * i - 1] = redis.call('HGET', key, rid)
  out[3 * i] = redis.call('GET', KEYS[2 * i])
end
return out
"""
ROWS_PER_CALL = 100


@dataclass(frozen=True)
class Linked:
    """The result of writing one link: whether it is new, and any tombstone of its id."""

    mapping: Mapping
    new: bool
    deleted_at: float | None


def put(r: redis.Redis | Pipeline, m: Mapping) -> None:
    """Link one record id, setting its linked_at (no tombstone check: see put_many)."""
    r.hset(keys.mapping(m.source, m.object, m.external_id), m.record_id, repr(m.linked_at))


def put_many(r: redis.Redis, rows: Sequence[tuple[Mapping, bool]]) -> list[Linked]:
    """Write links in one pipeline; a row's flag keeps an existing linked_at when true."""
    script = r.register_script(_LINK)
    with r.pipeline(transaction=False) as pipe:
        for start in range(0, len(rows), ROWS_PER_CALL):
            keys_: list[str] = []
            args: list[str | int] = []
            for m, keep in rows[start : start + ROWS_PER_CALL]:
                keys_ += [
                    keys.mapping(m.source, m.object, m.external_id),
                    keys.tombstone(m.source, m.external_id),
                ]
                args += [m.record_id, repr(m.linked_at), int(keep)]
            script(keys=keys_, args=args, client=pipe)
        replies = [value for reply in pipe.execute() for value in reply]
    out = []
    for i, (m, _) in enumerate(rows):
        new, at, tomb = replies[3 * i : 3 * i + 3]
        effective = Mapping(m.source, m.object, m.external_id, m.record_id, _linked_at(at))
        out.append(Linked(effective, bool(new), None if tomb is None else float(tomb)))
    return out


def _linked_at(stored: str) -> float:
    """A stored linked_at; one edited by hand into something else counts as unknown age (0).

    Unknown age never spares a record from erasure (the stale guard needs a real time), and a
    reader never crashes on it.
    """
    try:
        value = float(stored)
    except ValueError:
        return 0.0
    return value if math.isfinite(value) else 0.0


def get(r: redis.Redis, source: str, obj: str, external_id: str) -> list[Mapping]:
    """Every record linked to the external id, oldest link first."""
    data: dict[str, str] = r.hgetall(keys.mapping(source, obj, external_id))  # type: ignore[assignment]
    found = [Mapping(source, obj, external_id, rid, _linked_at(at)) for rid, at in data.items()]
    return sorted(found, key=lambda m: (m.linked_at, m.record_id))


def remove(r: redis.Redis | Pipeline, source: str, obj: str, external_id: str, rid: str) -> None:
    """Unlink one record (after it was deleted)."""
    r.hdel(keys.mapping(source, obj, external_id), rid)


def put_tombstone(r: redis.Redis, source: str, external_id: str, now: float, ttl: int) -> None:
    """Keep for ttl seconds that a deletion of external_id found (and left) no mapping."""
    r.set(keys.tombstone(source, external_id), repr(now), ex=ttl)


def mark_erased(r: redis.Redis, obj: str, record_id: str, by: str, ttl: int) -> None:
    """Keep for ttl seconds that the record was deleted, by which event (source/event_id)."""
    r.set(keys.erased(obj, record_id), by, ex=ttl)


def is_erased(r: redis.Redis, obj: str, record_id: str) -> bool:
    """Whether the record's deletion is recorded (so it is never deleted twice)."""
    return audit.deletion_recorded(r, obj, record_id)  # the marker, or its audit entry


def unlink(r: redis.Redis, source: str, obj: str, external_id: str, rid: str | None) -> int:
    """Unlink one record, or every record of the external id; returns how many went."""
    key = keys.mapping(source, obj, external_id)
    if rid:
        return int(r.hdel(key, rid.lower()))
    with r.pipeline() as pipe:
        pipe.hlen(key)
        pipe.delete(key)
        count, _ = pipe.execute()
    return int(count)


def scan(r: redis.Redis, source: str | None = None, obj: str | None = None) -> Iterator[Mapping]:
    """Every stored link, optionally of one source and object (SCAN: Redis is not blocked)."""
    # Sources and slugs are validated and hold no glob characters.
    pattern = keys.mapping(source or "*", obj or "*", "*")
    head = len(keys.mapping("", "", "")) - 2  # the prefix without the two separators
    batch: list[tuple[str, str, str]] = []
    for key in r.scan_iter(match=pattern, count=1000):
        src, slug, external_id = str(key)[head:].split(":", 2)
        if (source is None or src == source) and (obj is None or slug == obj):
            batch.append((src, slug, external_id))
        if len(batch) >= 1000:
            yield from _fetch(r, batch)
    yield from _fetch(r, batch)


def _fetch(r: redis.Redis, batch: list[tuple[str, str, str]]) -> Iterator[Mapping]:
    """The links of a batch of external ids, read in one pipeline."""
    with r.pipeline(transaction=False) as pipe:
        for ids in batch:
            pipe.hgetall(keys.mapping(*ids))
        found = pipe.execute()
    for (src, slug, external_id), data in zip(batch, found, strict=True):
        links = [Mapping(src, slug, external_id, rid, _linked_at(at)) for rid, at in data.items()]
        yield from sorted(links, key=lambda m: (m.linked_at, m.record_id))
    batch.clear()
