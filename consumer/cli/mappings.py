"""mappings import / export / get / set / delete / sync: links from external ids to records.

sync pages through a Zeeg object and links each record by an attribute's value, resumably.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import TextIO

import click

from consumer.cli.common import fail, get_settings
from consumer.cli.output import emit
from consumer.delivery.jobs import build_context
from consumer.errors import InvalidFile, InvalidIdentifier, ZeegError
from consumer.mappings.files import BAD_LINKED_AT, Row, parse_linked_at, read_rows, write_rows
from consumer.mappings.linking import LinkReport, link_rows
from consumer.mappings.sync import SyncReport, reset, sync
from consumer.models import (
    Mapping,
    check_external_id,
    check_object_slug,
    check_record_id,
    check_source_name,
)
from consumer.queue import erasure_queue
from consumer.settings import Settings
from consumer.store import mappings as store
from consumer.store.connection import Connections, connect

PROGRESS_BYTES = 1 << 20  # files past 1 MiB get a progress bar


@click.group()
def mappings() -> None:
    """Import, export, inspect and sync mappings (external id -> Zeeg record ids)."""


def _conns(settings: Settings) -> Connections:
    return connect(settings.redis_url, settings.redis_sentinel)


def _checked(
    source: str | None, obj: str | None, external_id: str | None = None, rid: str | None = None
) -> None:
    """Fail with one line unless each identifier given has the shape a key may hold."""
    try:
        if source is not None:
            check_source_name(source)
        if obj is not None:
            check_object_slug(obj)
        if external_id is not None:
            check_external_id(external_id)
        if rid is not None:
            check_record_id(rid)
    except InvalidIdentifier as e:
        fail(str(e))


def _report_text(report: LinkReport) -> str:
    lines = [f"line {e.line}: {e.reason}" for e in report.errors]
    if report.error_count > len(report.errors):
        lines.append(f"... and {report.error_count - len(report.errors)} more bad line(s)")
    lines.append(f"linked {report.linked}, already linked {report.unchanged}")
    lines.append(f"skipped {report.error_count} bad line(s)" if report.error_count else "")
    if report.erasures:
        lines.append(f"{len(report.erasures)} link(s) to erased ids: erasure enqueued")
    if report.spared:
        lines.append(f"{report.spared} link(s) to erased ids made after the erasure: kept")
    return "\n".join(line for line in lines if line)


@mappings.command("import")
# surrogateescape: a byte that is not UTF-8 becomes a lone surrogate, which the identifier
# checks refuse, so that line is reported and the others are imported (not a traceback).
@click.argument("file", type=click.File("r", encoding="utf-8-sig", errors="surrogateescape"))
@click.option("--json", "as_json", is_flag=True)
def import_(file: TextIO, as_json: bool) -> None:
    """Import a CSV (source,object,external_id,record_id[,linked_at]) or JSON-lines file.

    Bad lines are reported with their numbers and skipped (exit 1 if there were any);
    re-importing the same file changes nothing.
    """
    settings = get_settings()
    conns = _conns(settings)
    size = _size(file)
    hidden = size <= PROGRESS_BYTES or as_json
    stderr = sys.stderr
    with click.progressbar(length=size, label="importing", hidden=hidden, file=stderr) as bar:
        try:
            rows = read_rows(_counted(file, bar.update))
            report = link_rows(conns.text, erasure_queue(conns.raw), settings, rows, time.time())
        except InvalidFile as e:
            fail(f"{getattr(file, 'name', 'file')}: refused: {e}")
    emit(report.as_dict(), as_json, _report_text(report))
    if report.error_count:
        fail(f"{report.error_count} bad line(s) skipped")


def _size(file: TextIO) -> int:
    try:
        return os.fstat(file.fileno()).st_size
    except (OSError, ValueError):
        return 0


def _counted(file: TextIO, update: Callable[[int], None]) -> Iterator[str]:
    """The file's lines, advancing the progress bar by their length (bytes, near enough)."""
    for line in file:
        update(len(line))
        yield line


@mappings.command("export")
@click.option("--source", help="Only this source.")
@click.option("--object", "object_slug", help="Only this object.")
@click.option(
    "--format", "fmt", type=click.Choice(["csv", "jsonl"]), default="csv", show_default=True
)
@click.option("--output", "-o", type=click.File("w", encoding="utf-8"), default="-")
@click.option("--json", "as_json", is_flag=True, help="Same as --format jsonl.")
def export(
    source: str | None, object_slug: str | None, fmt: str, output: TextIO, as_json: bool
) -> None:
    """Write every mapping as an import file (linked_at in ISO 8601); import takes it back."""
    _checked(source, object_slug)
    conns = _conns(get_settings())
    write_rows(store.scan(conns.text, source, object_slug), output, "jsonl" if as_json else fmt)


@mappings.command("get")
@click.argument("source")
@click.argument("object_slug", metavar="OBJECT")
@click.argument("external_id")
@click.option("--json", "as_json", is_flag=True)
def get(source: str, object_slug: str, external_id: str, as_json: bool) -> None:
    """Show the record ids linked to one external id."""
    _checked(source, object_slug, external_id)
    r = _conns(get_settings()).text
    found = store.get(r, source, object_slug, external_id)
    rows = [{"record_id": m.record_id, "linked_at": m.linked_at or None} for m in found]
    text = "\n".join(f"{m.record_id}  linked {_when(m.linked_at)}" for m in found)
    emit(rows, as_json, text or "-")
    if not found:
        fail(f"no mapping for {source}/{object_slug}/{external_id}")


def _when(linked_at: float) -> str:
    if not linked_at:
        return "at an unknown time"
    return datetime.fromtimestamp(linked_at, UTC).isoformat(timespec="seconds")


@mappings.command("set")
@click.argument("source")
@click.argument("object_slug", metavar="OBJECT")
@click.argument("external_id")
@click.argument("record_id")
@click.option(
    "--linked-at", help="ISO 8601 or unix time; default now (an existing link keeps its own)."
)
@click.option("--json", "as_json", is_flag=True)
def set_(
    source: str,
    object_slug: str,
    external_id: str,
    record_id: str,
    linked_at: str | None,
    as_json: bool,
) -> None:
    """Link one record id to an external id (other linked records stay)."""
    settings = get_settings()
    conns = _conns(settings)
    row = _one_row(source, object_slug, external_id, record_id, linked_at)
    report = link_rows(conns.text, erasure_queue(conns.raw), settings, [row], time.time())
    if report.errors:
        fail(report.errors[0].reason)
    emit(report.as_dict(), as_json, _report_text(report))


def _one_row(source: str, obj: str, external_id: str, rid: str, linked_at: str | None) -> Row:
    at = time.time() if linked_at is None else parse_linked_at(linked_at)
    if at is None:
        fail(f"--{BAD_LINKED_AT.replace('_', '-')}")
    try:
        m = Mapping(
            source, check_object_slug(obj), check_external_id(external_id), check_record_id(rid), at
        )
    except InvalidIdentifier as e:
        fail(str(e))
    return Row(m, 1, linked_at is None)


@mappings.command("delete")
@click.argument("source")
@click.argument("object_slug", metavar="OBJECT")
@click.argument("external_id")
@click.argument("record_id", required=False)
@click.option("--json", "as_json", is_flag=True)
def delete(
    source: str, object_slug: str, external_id: str, record_id: str | None, as_json: bool
) -> None:
    """Unlink one record id, or every record of the external id (Zeeg is not called)."""
    _checked(source, object_slug, external_id, record_id)
    r = _conns(get_settings()).text
    removed = store.unlink(r, source, object_slug, external_id, record_id)
    emit({"removed": removed}, as_json, f"removed {removed} link(s)")
    if not removed:
        fail(f"no mapping for {source}/{object_slug}/{external_id}")


@mappings.command("sync")
@click.option("--source", required=True, help="The source whose external ids the values are.")
@click.option("--object", "object_slug", required=True, help="The Zeeg object slug to list.")
@click.option("--attribute", required=True, help="The attribute holding the external id.")
@click.option(
    "--count", type=click.IntRange(1, 100), default=100, show_default=True, help="Records per page."
)
@click.option("--restart", is_flag=True, help="Forget a saved cursor and start at page 1.")
@click.option("--json", "as_json", is_flag=True)
def sync_(
    source: str, object_slug: str, attribute: str, count: int, restart: bool, as_json: bool
) -> None:
    """Page through GET /crm/OBJECT and link each record by ATTRIBUTE (resumes if interrupted)."""
    settings = get_settings(require_token=True)
    if source not in settings.sources:
        fail(f"source {source!r} is not configured")
    ctx = build_context(settings)
    try:
        if restart:
            reset(ctx, source, object_slug, attribute)
    except InvalidIdentifier as e:
        fail(str(e))
    stderr = sys.stderr
    with click.progressbar(length=1, label="syncing", hidden=as_json, file=stderr) as bar:

        def on_page(report: SyncReport) -> None:
            """Advance the bar a page; its length follows Zeeg's totalPages."""
            bar.length = max(report.total_pages, 1)
            done = report.page if report.complete else report.page - 1
            bar.update(done - bar.pos)

        try:
            report = sync(ctx, source, object_slug, attribute, count, on_page=on_page)
        except InvalidIdentifier as e:
            fail(str(e))
        except ZeegError as e:
            fail(f"sync stopped ({e}); run the same command again to resume")
    emit(dataclasses.asdict(report), as_json, _sync_text(report))


def _sync_text(report: SyncReport) -> str:
    text = (
        f"{report.records} record(s) on {report.total_pages} page(s): linked {report.linked}, "
        f"already linked {report.unchanged}, skipped {report.skipped}, "
        f"erasures enqueued {report.erasures}"
    )
    return f"resumed at page {report.resumed_from}\n{text}" if report.resumed_from else text
