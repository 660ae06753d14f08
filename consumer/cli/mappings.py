"""mappings import / get: the links from external ids to Zeeg record ids."""

from __future__ import annotations

import time
from typing import TextIO

import click

from consumer.cli import emit, fail, get_settings, main
from consumer.mapfile import RowError, read_rows
from consumer.models import Mapping
from consumer.store import mappings as store
from consumer.store.connection import connect

BATCH = 1000


@main.group()
def mappings() -> None:
    """Import and inspect mappings."""


@mappings.command("import")
@click.argument("file", type=click.File("r", encoding="utf-8"))
@click.option("--json", "as_json", is_flag=True)
def import_(file: TextIO, as_json: bool) -> None:
    """Import a CSV (source,object,external_id,record_id[,linked_at]) or JSON-lines file."""
    r = connect(get_settings().redis_url).text
    imported, errors, batch = 0, [], []
    for row in read_rows(file, time.time()):
        if isinstance(row, RowError):
            errors.append(row)
            continue
        batch.append(row)
        if len(batch) >= BATCH:
            imported += _write(r, batch)
    imported += _write(r, batch)
    report = {"imported": imported, "errors": [e.__dict__ for e in errors]}
    text = "\n".join([f"line {e.line}: {e.reason}" for e in errors] + [f"imported {imported}"])
    emit(report, as_json, text)
    if errors and not imported:
        fail(f"nothing imported: {len(errors)} bad line(s)")


def _write(r: object, batch: list[Mapping]) -> int:
    with r.pipeline(transaction=False) as pipe:  # type: ignore[attr-defined]
        for m in batch:
            store.put(pipe, m)
        pipe.execute()
    count = len(batch)
    batch.clear()
    return count


@mappings.command("get")
@click.argument("source")
@click.argument("object_slug", metavar="OBJECT")
@click.argument("external_id")
@click.option("--json", "as_json", is_flag=True)
def get(source: str, object_slug: str, external_id: str, as_json: bool) -> None:
    """Show the record ids linked to one external id."""
    r = connect(get_settings().redis_url).text
    found = store.get(r, source, object_slug, external_id)
    rows = [{"record_id": m.record_id, "linked_at": m.linked_at} for m in found]
    emit(rows, as_json, "\n".join(f"{m.record_id}  linked {m.linked_at}" for m in found) or "-")
    if not found:
        fail(f"no mapping for {source}/{object_slug}/{external_id}")
