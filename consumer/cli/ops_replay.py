"""Operator commands that write in bulk or export: replay, erase, audit export, trim."""

from __future__ import annotations

import signal
import sys
from typing import Any, TextIO

import click

from consumer.cli import emit, fail, main
from consumer.cli.ops_common import (
    by_option,
    event_filters,
    get_ops,
    json_option,
    operator_command,
    reason_option,
    table,
    whoami,
)
from consumer.ops import Ops, parse_time
from consumer.ops import audit as au
from consumer.ops import erase as er
from consumer.ops import events as ev
from consumer.ops import replay as rp
from consumer.store import retention


@main.command()
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


@main.command()
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


@main.group()
def audit() -> None:
    """The audit log of erasures."""


@audit.command("export")
@click.option("--format", "fmt", type=click.Choice(au.FORMATS), default="jsonl", show_default=True)
@click.option("--since", help="ISO 8601, epoch seconds or an age (2h, 7d).")
@click.option("--until")
@click.option("--json", "as_json", is_flag=True, help="Same as --format jsonl.")
@click.option(
    "--output",
    "-o",
    type=click.File("w", encoding="utf-8"),
    default="-",
    help="File to write (default: stdout).",
)
@operator_command
def audit_export(
    fmt: str, since: str | None, until: str | None, as_json: bool, output: TextIO
) -> None:
    """One row per target record: event id, source, external id, object, record id,
    outcome, HTTP status, occurred and completed times."""
    ops = get_ops()
    now = ops.clock()
    fmt = "jsonl" if as_json else fmt
    for chunk in au.export(ops.r, fmt, parse_time(since, now), parse_time(until, now)):
        output.write(chunk)


@audit.command("verify")
@click.argument("file", type=click.File("r", encoding="utf-8"))
def audit_verify(file: TextIO) -> None:
    """Check an audit export offline: exit 0 with the count and head, or 1 naming the first
    entry removed, inserted, changed or reordered."""
    v = au.verify(file.read())
    if not v.ok:
        raise click.ClickException(f"row {v.row}: {v.problem}")
    click.echo(f"ok: {v.count} chained entries ({v.legacy} from before the chain), head {v.head}")


@main.command()
@json_option
@operator_command
def trim(as_json: bool) -> None:
    """Drop event log and audit entries past retention now (workers also trim once an hour)."""
    ops = get_ops()
    s = ops.settings
    removed = retention.trim(
        ops.r, ops.clock(), s.intake.event_log_retention_days, s.retention.audit_retention_days
    )
    emit(
        removed,
        as_json,
        f"removed {removed['event_log']} event log and {removed['audit']} audit entries, "
        f"{removed['pending']} expired pending events",
    )
