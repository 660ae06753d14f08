"""events search / show, replay and erase: the stored events, and new ones by hand."""

from __future__ import annotations

import signal
import sys
from typing import Any, TextIO

import click

from consumer.cli.common import (
    AsciiInt,
    by_option,
    event_filters,
    fail,
    get_ops,
    operator_command,
    reason_option,
    whoami,
)
from consumer.cli.output import emit, event_text, json_option, table
from consumer.ops import Ops
from consumer.ops import erase as er
from consumer.ops import events as ev
from consumer.ops import replay as rp

EVENT_COLUMNS = (
    "received_at",
    "source",
    "event_id",
    "external_id",
    "status",
    "attempts",
    "outcomes",
)


@click.group()
def events() -> None:
    """Search stored events and show one event's trail."""


@events.command("search")
@event_filters("A status, comma-separated statuses, or 'unfinished'.", "not_mapped")
@click.option("--limit", type=AsciiInt(), default=100, show_default=True)
@json_option
@operator_command
def events_search(limit: int, as_json: bool, **options: Any) -> None:
    """Find events (newest first) by source, external id, event id, status, outcome, time."""
    ops = get_ops()
    options["event_id"] = list(options["event_id"])
    found = ev.search_events(ops.r, ev.filters_from(options, ops.clock()), limit)
    emit(found, as_json, table(found, EVENT_COLUMNS))


@events.command("show")
@click.argument("source")
@click.argument("event_id")
@json_option
@operator_command
def events_show(source: str, event_id: str, as_json: bool) -> None:
    """One event's trail: received, each attempt with its status code, outcome per target."""
    data = ev.show_event(get_ops().r, source, event_id)
    emit(data, as_json, event_text(data))


@click.command()
@event_filters("Statuses to pick (default: unfinished).", "dry_run")
@click.option("--dry-run", is_flag=True, help="Count and show a sample; change nothing.")
@reason_option("Why (recorded in each event's trail; required unless --dry-run).")
@by_option
@json_option
@operator_command
def replay(
    dry_run: bool, reason: str | None, by: str | None, as_json: bool, **options: Any
) -> None:
    """Replay stored events from the event log under new job ids, bypassing deduplication.

    Without --status or --outcome, only unfinished events are picked. Ctrl-C stops cleanly
    between events and reports how many were replayed.
    """
    ops = get_ops()
    options["event_id"] = list(options["event_id"])
    selected = rp.select(ops, ev.filters_from(options, ops.clock()))
    if dry_run:
        data = rp.preview(selected)
        text = f"{data['count']} event(s) would be replayed\n" + table(
            data["sample"], ("received_at", "source", "event_id", "status", "outcomes")
        )
        emit(data, as_json, text)
        return
    if not reason:
        raise click.UsageError("--reason is required (it is recorded in each event's trail)")
    _run_replay(ops, selected, by or whoami(), reason, as_json)


def _run_replay(
    ops: Ops, selected: list[dict[str, str]], by: str, reason: str, as_json: bool
) -> None:
    """Replay with a progress bar on stderr; Ctrl-C stops cleanly between two events."""
    done: list[dict[str, Any]] = []
    stop: list[int] = []
    # A flag, not KeyboardInterrupt: an interrupt inside a transaction's reply would leave
    # an event replayed but not counted.
    previous = signal.signal(signal.SIGINT, lambda signum, frame: stop.append(signum))
    try:
        with click.progressbar(selected, label="replaying", file=sys.stderr) as bar:
            for data in bar:
                if stop:
                    break
                done.append(rp.replay_one(ops, data, by=by, reason=reason))
    finally:
        signal.signal(signal.SIGINT, previous)
    if stop:
        emit({"replayed": done, "cancelled": True}, as_json, f"{len(done)} replayed")
        fail(f"replay cancelled: {len(done)} of {len(selected)} event(s) replayed")
    skipped = sum(1 for d in done if d.get("skipped"))
    text = f"{len(done) - skipped} event(s) replayed, {skipped} skipped (a worker had them)\n"
    text += table(done, ("source", "event_id", "job_id", "skipped"))
    emit({"replayed": done, "cancelled": False}, as_json, text)


@click.command()
@click.argument("external_id", required=False)
@click.option("--source", required=True, help="The source whose targets are erased.")
@click.option(
    "--csv",
    "csv_file",
    # utf-8-sig: spreadsheets save CSVs with a byte-order mark, which would hide the header.
    # surrogateescape: a byte that is not UTF-8 fails its row's check, not the decoder.
    type=click.File("r", encoding="utf-8-sig", errors="surrogateescape"),
    help="A CSV of external ids (an external_id column, or the first column).",
)
@reason_option("Why (recorded in the trail).", default=er.DEFAULT_REASON, show_default=True)
@by_option
@json_option
@operator_command
def erase(
    external_id: str | None,
    source: str,
    csv_file: TextIO | None,
    reason: str,
    by: str | None,
    as_json: bool,
) -> None:
    """Erase a person by external id (or a CSV of them) through the webhook pipeline."""
    if (external_id is None) == (csv_file is None):
        raise click.UsageError("give one EXTERNAL_ID or --csv FILE")
    ids = [external_id] if external_id is not None else er.read_ids(csv_file or [])
    ops = get_ops()
    done = [er.erase(ops, source, i, by=by or whoami(), reason=reason) for i in ids]
    emit({"accepted": done}, as_json, table(done, ("source", "external_id", "event_id", "job_id")))
