"""audit export, audit verify and trim: the audit log of erasures, and retention on demand."""

from __future__ import annotations

from typing import TextIO

import click

from consumer.cli.common import get_ops, operator_command
from consumer.cli.output import emit, json_option
from consumer.ops import audit as au
from consumer.ops import parse_time
from consumer.store import retention


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
@click.argument("file", type=click.File("r", encoding="utf-8"))
def audit_verify(file: TextIO) -> None:
    """Check an audit export offline: exit 0 with the count and head, or 1 naming the first
    entry removed, inserted, changed or reordered."""
    v = au.verify(file.read())
    if not v.ok:
        raise click.ClickException(f"row {v.row}: {v.problem}")
    click.echo(f"ok: {v.count} chained entries ({v.legacy} from before the chain), head {v.head}")


@click.command()
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
