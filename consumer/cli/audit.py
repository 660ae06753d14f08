"""audit export, checkpoint, verify and trim: the audit log of erasures, and retention on demand."""

from __future__ import annotations

import json
from typing import Any, TextIO

import click

from consumer.cli.common import get_ops, operator_command
from consumer.cli.output import emit, json_option
from consumer.ops import audit as au
from consumer.ops import parse_time
from consumer.store import checkpoints, retention


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
@click.option(
    "--checkpoint",
    "checkpoint_file",
    type=click.File("w", encoding="utf-8"),
    help="Also write the signed checkpoint every export takes (for `audit verify --checkpoint`).",
)
@operator_command
def audit_export(
    fmt: str,
    since: str | None,
    until: str | None,
    as_json: bool,
    output: TextIO,
    checkpoint_file: TextIO | None,
) -> None:
    """One row per target record: event id, source, external id, object, record id,
    outcome, HTTP status, occurred and completed times, and the chain columns."""
    ops = get_ops()
    now = ops.clock()
    fmt = "jsonl" if as_json else fmt
    # Taken before the rows are read, so its head is a row of this export (unless --until
    # ends it earlier); workers may add entries after it while the export runs.
    cp = checkpoints.take(ops.r, ops.settings.signing_key, now, "export")
    for chunk in au.export(ops.r, fmt, parse_time(since, now), parse_time(until, now)):
        output.write(chunk)
    if checkpoint_file is not None:
        checkpoint_file.write(json.dumps(cp, indent=2, ensure_ascii=False) + "\n")


@audit.command("checkpoint")
@json_option
@operator_command
def audit_checkpoint(as_json: bool) -> None:
    """Take a checkpoint of the chain head now (signed when AUDIT_SIGNING_KEY is set)."""
    ops = get_ops()
    cp = checkpoints.take(ops.r, ops.settings.signing_key, ops.clock(), "manual")
    signed = "signed" if cp["signed"] else "unsigned: no AUDIT_SIGNING_KEY"
    emit(
        cp,
        as_json,
        f"checkpoint {cp['created_at']}: head {cp['head'] or '-'}, "
        f"{cp['entries']} entries ({signed})",
    )


@audit.command("verify")
@click.argument("file", type=click.File("r", encoding="utf-8"))
@click.option(
    "--checkpoint",
    "checkpoint_file",
    type=click.File("r", encoding="utf-8"),
    help="A checkpoint (from `audit export --checkpoint`) whose head the export must reach.",
)
@click.option("--public-key", help="The public key the checkpoint must be signed by.")
def audit_verify(file: TextIO, checkpoint_file: TextIO | None, public_key: str | None) -> None:
    """Check an audit export offline: exit 0 with the count and head, or 1 naming the first
    entry removed, inserted, changed or reordered (or a checkpoint it does not reach)."""
    text = file.read()
    v = au.verify(text)
    if not v.ok:
        raise click.ClickException(f"row {v.row}: {v.problem}")
    found = ""
    if checkpoint_file is not None:
        problem, found = au.checkpoint_problem(
            text, _json_object(checkpoint_file.read()), public_key
        )
        if problem is not None:
            raise click.ClickException(problem)
    elif public_key is not None:
        raise click.UsageError("--public-key checks a --checkpoint: give both")
    tail = f"; {found}" if found else ""
    click.echo(
        f"ok: {v.count} chained entries ({v.legacy} from before the chain), head {v.head}{tail}"
    )


def _json_object(text: str) -> dict[str, Any]:
    try:
        doc = json.loads(text)
    except ValueError:
        raise click.ClickException("the checkpoint file is not JSON") from None
    if not isinstance(doc, dict):
        raise click.ClickException("the checkpoint file is not a JSON object")
    return doc


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
