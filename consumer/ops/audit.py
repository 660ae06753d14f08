"""Audit export: one row per target record, as JSON lines or CSV, over a time range."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Mapping
from typing import Any

import redis

from consumer import audit_chain, csvcell, signing
from consumer.errors import OperatorError
from consumer.ops import iso, shown_int
from consumer.store import audit

FORMATS = ("jsonl", "csv")
# The chain columns come last so older readers of the export keep their columns.
COLUMNS = (*audit.FIELDS, "prev", "hash", "canonical", "verified")


def render(stored: dict[str, str]) -> dict[str, Any]:
    """One entry's stored fields as the export shows them: typed values, ISO 8601 times."""
    row: dict[str, Any] = {name: stored.get(name) or None for name in audit.FIELDS}
    # A value no conversion can read is exported as stored: a GDPR export never stops
    # at one bad row (a hand edit, an older version), and never hides it.
    row["http_status"] = shown_int(row["http_status"])
    for name in ("occurred_at", "completed_at"):
        row[name] = iso(row[name])
    # zeeg.verify_deletions: true or false when checked, None (an empty cell) otherwise.
    row["verified"] = {"true": True, "false": False}.get(stored.get("verified") or "")
    return row


def rows(r: redis.Redis, since: float | None, until: float | None) -> Iterator[dict[str, Any]]:
    """Audit entries in time order, each with its prev, hash and canonical JSON (None if
    written before the chain)."""
    for entry in audit.entries(r, since, until):
        yield export_row({k: v for k, v in entry.items() if k != "id"})


def export_row(stored: dict[str, str]) -> dict[str, Any]:
    """One entry as the export (and an archive) shows it, with its chain columns."""
    row = render(stored)
    chained = "hash" in stored
    row["prev"] = stored.get("prev") if chained else None
    row["hash"] = stored.get("hash") if chained else None
    row["canonical"] = audit_chain.canonical(stored) if chained else None
    return row


def export(r: redis.Redis, fmt: str, since: float | None, until: float | None) -> Iterator[str]:
    """The export as text chunks, one line each (a CSV starts with its header)."""
    if fmt not in FORMATS:
        raise OperatorError(f"unknown format {fmt!r}: use jsonl or csv")
    if fmt == "jsonl":
        for row in rows(r, since, until):
            yield json.dumps(row, separators=(",", ":")) + "\n"
        return
    # csvcell: a cell a spreadsheet would run as a formula gets a "'" in front (OWASP).
    yield csvcell.line(COLUMNS)
    for row in rows(r, since, until):
        yield csvcell.line(row[n] for n in COLUMNS)


def read_export(text: str) -> list[dict[str, Any]]:
    """The rows of an export file, JSON lines or CSV (cells restored), in file order."""
    if text.lstrip().startswith("{"):
        return [json.loads(line) for line in text.split("\n") if line.strip()]
    reader = csv.DictReader(io.StringIO(text, newline=""))
    return [{k: csvcell.restore(v or "") for k, v in row.items()} for row in reader]


def verify(text: str, anchor: str | None = None) -> audit_chain.Verdict:
    """Check an export offline (no Redis): see consumer.audit_chain.verify."""
    return audit_chain.verify(read_export(text), render, anchor)


def checkpoint_problem(
    text: str, checkpoint: Mapping[str, Any], public_key: str | None
) -> tuple[str | None, str]:
    """Whether a checkpoint vouches for an export: (problem or None, what was found).

    With a public key, the checkpoint must be signed by it; its head must be the hash of a
    row of the export, so nothing up to that row was cut or rewritten since it was signed.
    """
    if checkpoint.get("type") != "audit-checkpoint":
        return "the checkpoint file is not an audit checkpoint", ""
    if public_key is not None:
        problem = signing.problem(checkpoint, signing.load_public(public_key))
        if problem is not None:
            return f"checkpoint: {problem}", ""
    head = checkpoint.get("head") or ""
    hashes = [str(row.get("hash") or "") for row in read_export(text)]
    if not head or head not in hashes:
        return "the checkpoint's head is not in the export (entries cut, or rewritten)", ""
    signed = "signed" if public_key is not None else "not checked for a signature"
    return (
        None,
        f"checkpoint of {checkpoint.get('created_at')} ({signed}) at row {hashes.index(head) + 1}",
    )
