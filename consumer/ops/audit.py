"""Audit export: one row per target record, as JSON lines or CSV, over a time range."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import redis

from consumer import csvcell
from consumer.errors import OperatorError
from consumer.ops import iso, shown_int
from consumer.store import audit

FORMATS = ("jsonl", "csv")


def rows(r: redis.Redis, since: float | None, until: float | None) -> Iterator[dict[str, Any]]:
    """Audit entries in time order with typed values and ISO 8601 times."""
    for entry in audit.entries(r, since, until):
        row: dict[str, Any] = {name: entry.get(name) or None for name in audit.FIELDS}
        # A value no conversion can read is exported as stored: a GDPR export never stops
        # at one bad row (a hand edit, an older version), and never hides it.
        row["http_status"] = shown_int(row["http_status"])
        for name in ("occurred_at", "completed_at"):
            row[name] = iso(row[name])
        yield row


def export(r: redis.Redis, fmt: str, since: float | None, until: float | None) -> Iterator[str]:
    """The export as text chunks, one line each (a CSV starts with its header)."""
    if fmt not in FORMATS:
        raise OperatorError(f"unknown format {fmt!r}: use jsonl or csv")
    if fmt == "jsonl":
        for row in rows(r, since, until):
            yield json.dumps(row, separators=(",", ":")) + "\n"
        return
    # csvcell: a cell a spreadsheet would run as a formula gets a "'" in front (OWASP).
    yield csvcell.line(audit.FIELDS)
    for row in rows(r, since, until):
        yield csvcell.line(row[n] for n in audit.FIELDS)
