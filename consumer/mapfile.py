"""Read mapping import files (CSV with a header, or JSON lines), validating every row.

Bad rows are reported with their line numbers and skipped; the good rows are imported.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

from consumer.errors import InvalidIdentifier
from consumer.models import (
    SOURCE_NAME,
    Mapping,
    check_external_id,
    check_object_slug,
    check_record_id,
)
from consumer.sources.fields import parse_time

REQUIRED = ("source", "object", "external_id", "record_id")


@dataclass(frozen=True)
class RowError:
    """One rejected line of an import file."""

    line: int
    reason: str


def read_rows(stream: IO[str], now: float) -> Iterator[Mapping | RowError]:
    """Mappings and row errors, in file order; the format is sniffed from the first byte."""
    head = stream.read(1)
    rest = io.StringIO(head + stream.read()) if head else io.StringIO("")
    if head == "{":
        yield from _jsonl(rest, now)
    else:
        yield from _csv(rest, now)


def _csv(stream: IO[str], now: float) -> Iterator[Mapping | RowError]:
    reader = csv.DictReader(stream)
    missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
    if missing:
        yield RowError(1, f"header must have the columns {','.join(REQUIRED)}; missing {missing}")
        return
    for row in reader:
        yield _mapping(row, reader.line_num, now)


def _jsonl(stream: IO[str], now: float) -> Iterator[Mapping | RowError]:
    for number, line in enumerate(stream, start=1):
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
        yield _mapping(row, number, now)


def _mapping(row: dict[str, Any], line: int, now: float) -> Mapping | RowError:
    try:
        source = str(row.get("source") or "")
        if not SOURCE_NAME.match(source):
            raise InvalidIdentifier(f"invalid source {source!r}")
        obj = check_object_slug(str(row.get("object") or ""))
        external_id = check_external_id(row.get("external_id"))
        record_id = check_record_id(str(row.get("record_id") or ""))
    except InvalidIdentifier as e:
        return RowError(line, str(e))
    linked_at = now
    if row.get("linked_at") not in (None, ""):
        parsed = parse_time(row["linked_at"])
        if parsed is None:
            return RowError(line, "linked_at is not ISO 8601 or unix time")
        linked_at = parsed
    return Mapping(source, obj, external_id, record_id, linked_at)
