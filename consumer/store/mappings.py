"""The mapping store: (source, object, external_id) -> record ids, each with linked_at."""

from __future__ import annotations

import redis
from redis.client import Pipeline

from consumer.models import Mapping
from consumer.store import keys


def put(r: redis.Redis | Pipeline, m: Mapping) -> None:
    """Link one record id (idempotent; a later import updates linked_at)."""
    r.hset(keys.mapping(m.source, m.object, m.external_id), m.record_id, repr(m.linked_at))


def get(r: redis.Redis, source: str, obj: str, external_id: str) -> list[Mapping]:
    """Every record linked to the external id, oldest link first."""
    data: dict[str, str] = r.hgetall(keys.mapping(source, obj, external_id))  # type: ignore[assignment]
    found = [Mapping(source, obj, external_id, rid, float(at)) for rid, at in data.items()]
    return sorted(found, key=lambda m: (m.linked_at, m.record_id))


def remove(r: redis.Redis | Pipeline, source: str, obj: str, external_id: str, rid: str) -> None:
    """Unlink one record (after it was deleted)."""
    r.hdel(keys.mapping(source, obj, external_id), rid)
