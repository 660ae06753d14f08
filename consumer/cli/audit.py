"""audit export, checkpoint, verify, show, archive and reindex, and trim: the audit log of
erasures, its indexes, checkpoints and archives, and retention on demand."""

from __future__ import annotations

import json
from typing import Any, TextIO

import click

from consumer.cli.common import AsciiInt, get_ops, operator_command
from consumer.cli.output import emit, json_option, table
from consumer.models import json_object
from consumer.ops import archive as ar
from consumer.ops import audit as au
from consumer.ops import lookup, parse_time
from consumer.store import checkpoints, index, retention

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
@click.argument("files", nargs=-1, required=True, type=click.File("r", encoding="utf-8"))
@click.option("--anchor", help="The hash the first file's first entry must follow.")
@click.option(
    "--checkpoint",
    "checkpoint_file",
    type=click.File("r", encoding="utf-8"),
    help="A checkpoint (from `audit export --checkpoint`) whose head the last file must reach.",
)
@click.option(
    "--public-key", help="The public key the checkpoint (and each archive's) must be signed by."
)
def audit_verify(
    files: tuple[TextIO, ...],
    anchor: str | None,
    checkpoint_file: TextIO | None,
    public_key: str | None,
) -> None:
    """Check an audit export, or archive files oldest first (and an export after them),
    offline as one chain: exit 0 with the count and head, or 1 naming the first entry
    removed, inserted, changed or reordered (or a checkpoint it does not reach)."""
    texts = [(f.name, f.read()) for f in files]
    verdict = ar.verify_files(texts, anchor, public_key)
    if not verdict.ok:
        raise click.ClickException(verdict.problem or "the chain does not hold")
    found = ""
    if checkpoint_file is not None:
        problem, found = au.checkpoint_problem(
            texts[-1][1], _json_object(checkpoint_file.read()), public_key
        )
        if problem is not None:
            raise click.ClickException(problem)
    elif public_key is not None and verdict.archives == 0:
        raise click.UsageError("--public-key checks a --checkpoint or archives: give one")
    v, tail = verdict.verdict, f"; {found}" if found else ""
    click.echo(
        f"ok: {v.count} chained entries ({v.legacy} from before the chain), head {v.head}{tail}"
    )


def _json_object(text: str) -> dict[str, Any]:
    doc = json_object(text)
    if doc is None:
        raise click.ClickException("the checkpoint file is not a JSON object")
    return doc


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
    days = ar.archive_due(ops.r, directory, ops.clock(), ops.settings.signing_key)
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
    """Drop event log and audit entries past retention now (workers also trim once an hour by
    default, every [retention] trim_interval_seconds)."""
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
