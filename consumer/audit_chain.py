"""The audit hash chain, Redis-free: the canonical form of an entry, its link hash, and the
offline check of an export that names the first entry removed, inserted, changed or reordered.

The canonical form (docs/AUDIT.md): the entry's stored fields except `hash` (so `prev` is
in), as JSON with keys sorted, no whitespace, non-ASCII kept, UTF-8; every value the string
stored. hash = hex SHA-256 of the UTF-8 prev hash followed by the canonical bytes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

GENESIS = ""  # the prev of the first hashed entry ever written


def canonical(fields: Mapping[str, str]) -> str:
    """The canonical JSON text of an entry's stored fields (its hash left out)."""
    kept = {k: v for k, v in fields.items() if k != "hash"}
    return json.dumps(kept, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def link(prev: str, canonical_text: str) -> str:
    """The hash of an entry: SHA-256 of its prev hash and its canonical JSON, in hex."""
    return hashlib.sha256(prev.encode("utf-8") + canonical_text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Verdict:
    """What verify found: counts, the head, and the first problem if any."""

    count: int
    legacy: int
    head: str | None
    problem: str | None = None
    row: int | None = None

    @property
    def ok(self) -> bool:
        """True when every hashed row links to the one before it."""
        return self.problem is None


Render = Callable[[dict[str, str]], dict[str, Any]]


def verify(rows: Sequence[Mapping[str, Any]], render: Render, anchor: str | None = None) -> Verdict:
    """Check exported rows in order; row numbers in the verdict count data rows from 1.

    Rows before the first hashed one were written before the chain existed (legacy) and
    are only counted. render turns stored fields into the row the export shows, so an edit
    of a shown value that left `canonical` alone is caught too.
    """
    hashes = [str(row.get("hash") or "") for row in rows]
    legacy = next((i for i, h in enumerate(hashes) if h), len(rows))
    for i in range(legacy, len(rows)):
        found = _row_problem(rows, hashes, i, legacy, render, anchor)
        if found is not None:
            bad = found[1]
            return Verdict(bad - legacy, legacy, hashes[bad - 1] or None, found[0], bad + 1)
    return Verdict(len(rows) - legacy, legacy, hashes[-1] if len(rows) > legacy else None)


def _row_problem(
    rows: Sequence[Mapping[str, Any]],
    hashes: list[str],
    i: int,
    start: int,
    render: Render,
    anchor: str | None,
) -> tuple[str, int] | None:
    """Why the chain breaks at row i, and the index of the first bad row; None if it holds."""
    row, name = rows[i], _name(rows[i])
    text, prev = str(row.get("canonical") or ""), str(row.get("prev") or "")
    if not hashes[i] or _changed(row, text, prev, hashes[i], render):
        return f"{name}: changed (its hash does not match its content)", i
    if i == start:
        if anchor is not None and prev != anchor:
            return f"{name}: the entry before it was removed (prev is not the anchor)", i
        return None
    if prev == hashes[i - 1]:
        return None
    return _link_problem(rows, hashes, i, prev, name)


def _link_problem(
    rows: Sequence[Mapping[str, Any]], hashes: list[str], i: int, prev: str, name: str
) -> tuple[str, int]:
    """Name the break between row i-1 and row i by where row i's prev is found."""
    if prev in hashes[i + 1 :]:
        return f"{name}: reordered (it follows an entry that comes later in the file)", i
    if i + 1 < len(rows) and str(rows[i + 1].get("prev") or "") == hashes[i - 1]:
        return f"{name}: inserted (the next entry links past it)", i
    if prev in hashes[:i]:
        j = hashes.index(prev) + 1
        return f"{_name(rows[j])}: inserted (row {i + 1} links past it)", j
    return f"{name}: the entry before it was removed (its prev {prev[:12]} is not in the file)", i


def _changed(row: Mapping[str, Any], text: str, prev: str, digest: str, render: Render) -> bool:
    """Whether the row's hash, prev, canonical text and shown values disagree."""
    try:
        stored = json.loads(text)
    except ValueError:
        return True
    if not isinstance(stored, dict) or canonical(stored) != text or stored.get("prev") != prev:
        return True
    if link(prev, text) != digest:
        return True
    shown = render(stored)
    return any(_cell(row.get(k)) != _cell(v) for k, v in shown.items() if k in row)


def _cell(value: object) -> str:
    """A value as the CSV shows it, so JSON lines and CSV rows compare alike."""
    return "" if value is None else str(value)


def _name(row: Mapping[str, Any]) -> str:
    """How a row is named in a verdict: event, object and record."""
    return f"entry event {row.get('event_id')} {row.get('object')}/{row.get('record_id') or '-'}"
