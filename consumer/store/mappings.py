"""The mapping store: (source, object, external_id) -> record ids, each with linked_at.

One small hash per external id (record id -> linked_at as epoch seconds): about 150 bytes
by `MEMORY USAGE` for one link, kept in Redis's compact listpack encoding.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import redis
from redis.client import Pipeline

from consumer.models import Mapping
from consumer.store import keys

# KEYS[1] mapping hash, KEYS[2] tombstone; ARGV: record id, linked_at, "1" to keep an existing
# linked_at. Returns {1 if the link is new, the linked_at in effect, the tombstone or false}.
# One script per row keeps the write and the tombstone check atomic and one round trip.
_LINK = """
local new
if ARGV[3] == '1' then
  new = redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])
else
  new = redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
end
return {new, redis.call('HGET', KEYS[1], ARGV[1]), redis.call('GET', KEYS[2])}
"""


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
        for m, keep in rows:
            key = keys.mapping(m.source, m.object, m.external_id)
            tomb = keys.tombstone(m.source, m.external_id)
            script(keys=[key, tomb], args=[m.record_id, repr(m.linked_at), int(keep)], client=pipe)
        replies = pipe.execute()
    out = []
    for (m, _), (new, at, tomb) in zip(rows, replies, strict=True):
        effective = Mapping(m.source, m.object, m.external_id, m.record_id, float(at))
        out.append(Linked(effective, bool(new), None if tomb is None else float(tomb)))
    return out


def get(r: redis.Redis, source: str, obj: str, external_id: str) -> list[Mapping]:
    """Every record linked to the external id, oldest link first."""
    data: dict[str, str] = r.hgetall(keys.mapping(source, obj, external_id))  # type: ignore[assignment]
    found = [Mapping(source, obj, external_id, rid, float(at)) for rid, at in data.items()]
    return sorted(found, key=lambda m: (m.linked_at, m.record_id))


def remove(r: redis.Redis | Pipeline, source: str, obj: str, external_id: str, rid: str) -> None:
    """Unlink one record (after it was deleted)."""
    r.hdel(keys.mapping(source, obj, external_id), rid)


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
    """Every stored link, optionally of one source and object (SCAN: no blocking)."""
    # Sources and slugs are validated and hold no glob characters.
    pattern = keys.mapping(source or "*", obj or "*", "*")
    head = len(keys.mapping("", "", "")) - 2  # the prefix without the two separators
    for key in r.scan_iter(match=pattern, count=1000):
        src, slug, external_id = str(key)[head:].split(":", 2)
        if (source and src != source) or (obj and slug != obj):
            continue
        yield from get(r, src, slug, external_id)
