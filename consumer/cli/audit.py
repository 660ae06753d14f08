"""audit export, verify, show, archive and reindex, and trim: the audit log of erasures, its
indexes and archives, and retention on demand."""

from __future__ import annotations

from typing import Any, TextIO

import click

from consumer.cli.common import AsciiInt, get_ops, operator_command
from consumer.cli.output import emit, json_option, table
from consumer.ops import archive as ar
from consumer.ops import audit as au
from consumer.ops import lookup, parse_time
from consumer.store import index, retention

AUDIT_COLUMNS = (
    "completed_at",
    "source",
    "external_id",
    "object",
    "record_id",
    "outcome",
    "http_status",
    "event_id",
)


@click.group()
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
@click.argument("files", nargs=-1, required=True, type=click.File("r", encoding="utf-8"))
@click.option("--anchor", help="The hash the first file's first entry must follow.")
def audit_verify(files: tuple[TextIO, ...], anchor: str | None) -> None:
    """Check an audit export, or archive files oldest first (and an export after them),
    offline as one chain: exit 0 with the count and head, or 1 naming the first entry
    removed, inserted, changed or reordered."""
    found = ar.verify_files([(f.name, f.read()) for f in files], anchor)
    if not found.ok:
        raise click.ClickException(found.problem or "the chain does not hold")
    v = found.verdict
    click.echo(f"ok: {v.count} chained entries ({v.legacy} from before the chain), head {v.head}")


@audit.command("show")
@click.option("--external-id", help="The entries of one person (an external id).")
@click.option("--source", help="Only the external id of this source.")
@click.option("--record-id", help="The entries of one Zeeg record.")
@click.option("--object", "obj", help="Only the record of this object.")
@click.option("--since", help="ISO 8601, epoch seconds or an age (2h, 7d).")
@click.option("--until")
@click.option("--limit", type=AsciiInt(), default=100, show_default=True)
@json_option
@operator_command
def audit_show(since: str | None, until: str | None, as_json: bool, **query: Any) -> None:
    """The audit entries (newest first) of one external id or one record, from the index."""
    ops = get_ops()
    now = ops.clock()
    q = lookup.AuditQuery(**query, since=parse_time(since, now), until=parse_time(until, now))
    found = lookup.show(ops.r, q)
    emit(found, as_json, table(found, AUDIT_COLUMNS))


@audit.command("archive")
@json_option
@operator_command
def audit_archive(as_json: bool) -> None:
    """Write every past day not archived yet to [audit] archive_dir, with its checkpoint
    (the workers do it once a day)."""
    ops = get_ops()
    directory = ops.settings.audit.archive_dir
    if not directory:
        raise click.ClickException("no archive directory: set [audit] archive_dir")
    days = ar.archive_due(ops.r, directory, ops.clock())
    if days is None:
        raise click.ClickException("another process is archiving now: try again later")
    lines = [f"{d['day']}: {d['entries']} entries {d['file'] or '(no file)'}" for d in days]
    emit(days, as_json, "\n".join(lines) or "nothing to archive: every past day is archived")


@audit.command("reindex")
@json_option
@operator_command
def audit_reindex(as_json: bool) -> None:
    """Index every stored event and audit entry (after an upgrade, once every process runs
    it; idempotent; the workers also backfill a slice at a time)."""
    ops = get_ops()
    days = ops.settings.intake.event_log_retention_days
    done = {
        kind: index.backfill(ops.r, kind, days, budget=10**12, again=True) for kind in index.KINDS
    }
    emit(done, as_json, "indexes complete: lookups by external id and record id use them")


@click.command()
@json_option
@operator_command
def trim(as_json: bool) -> None:
    """Drop event log and audit entries past retention now (workers also trim once an hour)."""
    ops = get_ops()
    s = ops.settings
    removed = retention.trim(
        ops.r,
        ops.clock(),
        s.intake.event_log_retention_days,
        s.retention.audit_retention_days,
        archiving=bool(s.audit.archive_dir),
    )
    emit(
        removed,
        as_json,
        f"removed {removed['event_log']} event log and {removed['audit']} audit entries, "
        f"{removed['pending']} expired pending events",
    )
