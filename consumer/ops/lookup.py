"""`audit show`: one person's or one record's audit entries, from the audit indexes.

Until the audit index is complete (store.index.backfill, `audit reindex`), the stream is
scanned instead, so an entry written before the upgrade is never missed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis

from consumer.errors import InvalidIdentifier, OperatorError
from consumer.models import check_external_id, check_object_slug, check_record_id, check_source_name
from consumer.ops import audit as au
from consumer.store import audit, index, keys, search


@dataclass(frozen=True)
class AuditQuery:
    """Which audit entries to show: by external id (of a source) or by record id (of an object)."""

    external_id: str | None = None
    source: str | None = None
    record_id: str | None = None
    obj: str | None = None
    since: float | None = None
    until: float | None = None
    limit: int = 100


def checked(q: AuditQuery) -> AuditQuery:
    """The query with its identifiers validated (a record id lower-cased); OperatorError if not."""
    if (q.external_id is None) == (q.record_id is None):
        raise OperatorError("give one of --external-id or --record-id")
    if q.limit < 1:
        raise OperatorError(f"limit must be 1 or more, not {q.limit}")
    try:
        return AuditQuery(
            None if q.external_id is None else check_external_id(q.external_id),
            None if q.source is None else check_source_name(q.source),
            None if q.record_id is None else check_record_id(q.record_id),
            None if q.obj is None else check_object_slug(q.obj),
            q.since,
            q.until,
            q.limit,
        )
    except InvalidIdentifier as e:
        raise OperatorError(str(e)) from e


def show(r: redis.Redis, query: AuditQuery) -> list[dict[str, Any]]:
    """The matching audit entries, newest first, as the export shows them plus their id."""
    q = checked(query)
    if index.is_ready(r, "audit"):
        found = search.indexed_audit(r, _keys(r, q), q.since, q.until, q.limit)
    else:
        found = _scanned(r, q)
    return [{"id": entry_id, **au.export_row(fields)} for entry_id, fields in found]


def _keys(r: redis.Redis, q: AuditQuery) -> list[str]:
    """The index keys the query reads: one per source, or per object, unless it names one."""
    if q.external_id is not None:
        sources = [q.source] if q.source else search.index_names(r, keys.INDEX_SOURCES)
        return [keys.audit_by_external(s, q.external_id) for s in sources]
    objects = [q.obj] if q.obj else search.index_names(r, keys.INDEX_OBJECTS)
    return [keys.audit_by_record(o, q.record_id or "") for o in objects]


def _matches(q: AuditQuery, f: dict[str, str]) -> bool:
    if q.external_id is not None:
        return f.get("external_id") == q.external_id and q.source in (None, f.get("source"))
    return (f.get("record_id") or "").lower() == q.record_id and q.obj in (None, f.get("object"))


def _scanned(r: redis.Redis, q: AuditQuery) -> list[tuple[str, dict[str, str]]]:
    """The slow path before the backfill completes: every entry in the range is read."""
    found = []
    for entry in audit.entries(r, q.since, q.until):
        fields = {k: v for k, v in entry.items() if k != "id"}
        if _matches(q, fields):
            found.append((str(entry["id"]), fields))
    return found[::-1][: q.limit]
