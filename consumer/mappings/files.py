"""Read mapping import files (CSV with a header, or JSON lines), validating every row.

A file is refused as a whole (InvalidFile) when it is empty or its CSV header lacks a
required column, has an unknown one or names one twice. Otherwise bad rows are reported
with their line numbers and skipped; the good rows are imported. Duplicate rows are not
errors: linking the same record twice is idempotent. The file is streamed, never read
into memory at once.

A CSV cell that an export neutralised against spreadsheet formulas ("'=x") is read back
as the value it was ("=x"); see consumer.csvcell.

A row without linked_at was linked at an unknown time (a backfill): it is stored as
UNKNOWN (0), older than every event and tombstone, and an existing link keeps its own time.
"""

from __future__ import annotations

import csv
import itertools
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any

from consumer import csvcell
from consumer.errors import InvalidFile, InvalidIdentifier
from consumer.models import (
    Mapping,
    check_external_id,
    check_object_slug,
    check_record_id,
    check_source_name,
)
from consumer.sources.fields import parse_time

REQUIRED = ("source", "object", "external_id", "record_id")
UNKNOWN = 0.0  # linked_at of a link whose time nobody knows
COLUMNS = (*REQUIRED, "linked_at")
BAD_LINKED_AT = "linked_at is not ISO 8601 with a time zone, or unix time, from 1970 to before 2100"


@dataclass(frozen=True)
class Row:
    """One valid line; keep_linked_at when the file gave no linked_at (an existing one stays)."""

    mapping: Mapping
    line: int
    keep_linked_at: bool


@dataclass(frozen=True)
class RowError:
    """One rejected line of an import file."""

    line: int
    reason: str


def read_rows(lines: Iterable[str]) -> Iterator[Row | RowError]:
    """Rows and row errors in file order; JSON lines if the first non-blank line starts '{'."""
    it = iter(lines)
    skipped = 0
    for first in it:
        if first.strip():
            break
        skipped += 1
    else:
        raise InvalidFile("the file is empty")
    first = first.removeprefix("\ufeff")
    rest = itertools.chain([first], it)
    if first.lstrip().startswith("{"):
        return _jsonl(rest, skipped)
    return _csv(rest, skipped)


def _csv(lines: Iterable[str], offset: int) -> Iterator[Row | RowError]:
    reader = csv.DictReader(lines)
    names = [n.strip() for n in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED if c not in names]
    unknown = [c for c in names if c not in COLUMNS]
    twice = sorted({c for c in names if names.count(c) > 1})
    if missing or unknown or twice:
        raise InvalidFile(
            f"line {offset + 1}: the header must be {','.join(REQUIRED)}[,linked_at]"
            + (f"; missing {','.join(missing)}" if missing else "")
            + (f"; unknown {','.join(unknown)}" if unknown else "")
            + (f"; twice {','.join(twice)}" if twice else "")
        )
    reader.fieldnames = names
    return _csv_rows(reader, offset)


def _csv_rows(reader: csv.DictReader[str], offset: int) -> Iterator[Row | RowError]:
    for row in reader:
        line = reader.line_num + offset
        if None in row:
            yield RowError(line, f"more fields than the {len(reader.fieldnames or [])} columns")
        else:
            # Drop the "'" an export put before a cell a spreadsheet would run (csvcell).
            yield _row({k: v if v is None else csvcell.restore(v) for k, v in row.items()}, line)


def _jsonl(lines: Iterable[str], offset: int) -> Iterator[Row | RowError]:
    for number, line in enumerate(lines, start=offset + 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            yield RowError(number, "not valid JSON")
            continue
        if not isinstance(row, dict):
            yield RowError(number, "not a JSON object")
            continue
        unknown = sorted(set(row) - set(COLUMNS))
        if unknown:
            yield RowError(number, f"unknown key(s) {','.join(unknown)}")
            continue
        yield _row(row, number)


def _row(row: dict[str, Any], line: int) -> Row | RowError:
    try:
        source = check_source_name(str(row.get("source") or ""))
        obj = check_object_slug(str(row.get("object") or ""))
        external_id = check_external_id(row.get("external_id"))
        record_id = check_record_id(str(row.get("record_id") or ""))
    except InvalidIdentifier as e:
        return RowError(line, str(e))
    given = row.get("linked_at")
    if given in (None, ""):
        return Row(Mapping(source, obj, external_id, record_id, UNKNOWN), line, True)
    linked_at = parse_linked_at(given)
    if linked_at is None:
        return RowError(line, BAD_LINKED_AT)
    return Row(Mapping(source, obj, external_id, record_id, linked_at), line, False)


def parse_linked_at(value: Any) -> float | None:
    """A given linked_at as epoch seconds; None if unreadable or outside 1970-2099."""
    # A link may predate 2000 (old CRM records), unlike a webhook; up to 2100 as for every
    # time from outside, so that no unit is mistaken for another and every reader shows it.
    return parse_time(value, earliest=UNKNOWN)


def write_rows(found: Iterable[Mapping], out: IO[str], fmt: str = "csv") -> int:
    """Write mappings as an import file (csv or jsonl, linked_at in ISO 8601); the count."""
    written = 0
    if fmt == "csv":
        out.write(csvcell.line(COLUMNS, "\n"))
    for m in found:
        at = "" if m.linked_at == UNKNOWN else _iso(m.linked_at)
        values = (m.source, m.object, m.external_id, m.record_id, at)
        if fmt == "csv":
            # An external id may start with "=" or "-": neutralised, and restored on import.
            out.write(csvcell.line(values, "\n"))
        else:
            row = {k: v for k, v in zip(COLUMNS, values, strict=True) if v}
            out.write(json.dumps(row) + "\n")
        written += 1
    return written


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")
