"""Zeeg CRM answers as values: an upsert's outcome, a record lookup, one page of a list."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from consumer.models import check_record_id
from consumer.sources.fields import DATE_LATEST, parse_time


@dataclass(frozen=True)
class UpsertResult:
    """PUT ?matchingAttribute=: 200 updated an existing record, 201 created one."""

    status: int
    record_id: str
    created_at: float | None

    @property
    def created(self) -> bool:
        """True when no record matched and Zeeg created this one."""
        return self.status == 201

    @classmethod
    def from_body(cls, status: int, body: dict[str, Any]) -> UpsertResult:
        """From the `record` (or, for people, `person`) envelope; the id is checked."""
        record = body.get("record") or body.get("person")
        if not isinstance(record, dict):
            record = {}
        rid = check_record_id(str(record.get("id", "")))
        # Zeeg's own time, taken at any date: a record "created" later than the event is
        # spared by the stale guard, never erased because its year looked odd.
        return cls(status, rid, parse_time(record.get("createdAt"), 0.0, DATE_LATEST))


@dataclass(frozen=True)
class RecordLookup:
    """GET /crm/{object}/{id} with a terminal answer: 2xx (Zeeg has it) or 404 (gone)."""

    status: int

    @property
    def found(self) -> bool:
        """True while Zeeg still has the record."""
        return self.status != 404


@dataclass(frozen=True)
class RecordPage:
    """One page of GET /crm/{object} under Zeeg's list convention."""

    records: list[dict[str, Any]]
    page: int
    total_pages: int
    total: int
    next_page: int | None

    @classmethod
    def from_body(cls, page: int, body: dict[str, Any]) -> RecordPage:
        """From `{"collection": [...], "pagination": {...}}`; absent or bad numbers count as 0."""
        paging = body.get("pagination")
        paging = paging if isinstance(paging, dict) else {}
        collection = body.get("collection")
        records = (
            [r for r in collection if isinstance(r, dict)] if isinstance(collection, list) else []
        )
        nxt = _number(paging.get("nextPage"))
        return cls(
            records=records,
            page=_number(paging.get("currentPage")) or page,
            total_pages=_number(paging.get("totalPages")),
            total=_number(paging.get("total")),
            next_page=nxt if nxt > page else None,
        )


def _number(value: Any) -> int:
    """A whole number from a pagination field; 0 for anything else (absent, text, lists)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0
    if not math.isfinite(value) or value != int(value):
        return 0
    return int(value)
