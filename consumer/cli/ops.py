"""Operator commands: status, events, failed, requeue, pause, resume (replay, erase, audit
and trim live in ops_replay)."""

from __future__ import annotations

from typing import Any

import click

from consumer.cli import emit, main
from consumer.cli.ops_common import (
    AsciiInt,
    by_option,
    cell,
    event_filters,
    get_ops,
    json_option,
    operator_command,
    reason_option,
    table,
    whoami,
)
from consumer.ops import events as ev
from consumer.ops import failed as fl
from consumer.ops import status as st


@main.command()
@json_option
@operator_command
def status(as_json: bool) -> None:
    """Queue depth, retries, failures, workers, pause, last hour's deletions, SLA risk."""
    data = st.status(get_ops())
    emit(data, as_json, _status_text(data))


def _status_text(d: dict[str, Any]) -> str:
    paused = d["paused"]
    sla = d["sla"]
    lines = [
        f"queued       {d['queued']} (oldest {_age(d['oldest_queued_seconds'])})",
        f"running      {d['running']}",
        f"scheduled    {d['scheduled']} (retries and waits)",
        f"failed       {d['failed']}",
        f"workers      {len(d['workers'])} {' '.join(d['workers'])}".rstrip(),
        "paused       "
        + (
            "no"
            if paused is None
            else f"yes since {paused['since']} by {cell(paused['by'])}: {cell(paused['reason'])}"
        ),
        f"rate limit   {_held(d['rate_limited_for_seconds'])}",
        "last hour    " + (" ".join(f"{k}:{v}" for k, v in sorted(d["last_hour"].items())) or "-"),
        f"SLA {sla['hours']:g} h   at risk {sla['at_risk']}, past half {sla['past_half_sla']}"
        + (f", oldest received {sla['oldest_at_risk']}" if sla["oldest_at_risk"] else ""),
    ]
    return "\n".join(lines)


def _held(seconds: float) -> str:
    return f"held {seconds:g} s" if seconds else "free"


def _age(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.0f} s ago"


EVENT_COLUMNS = (
    "received_at",
    "source",
    "event_id",
    "external_id",
    "status",
    "attempts",
    "outcomes",
)


@main.group()
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


def event_text(data: dict[str, Any]) -> str:
    """An event's fields, one a line, then its trail as a table."""
    head = "\n".join(f"{k:13}{cell(v)}" for k, v in data.items() if k != "trail")
    trail = [
        {
            "at": e.get("at"),
            "what": e.get("what"),
            "details": {k: v for k, v in e.items() if k not in ("at", "what")},
        }
        for e in data["trail"]
    ]
    return head + "\n\n" + table(trail, ("at", "what", "details"))


@main.group(invoke_without_command=True)
@json_option
@click.pass_context
@operator_command
def failed(ctx: click.Context, as_json: bool) -> None:
    """List failed jobs with their reason (`failed show JOB_ID` for one)."""
    if ctx.invoked_subcommand is None:
        rows = fl.list_failed(get_ops())
        emit(
            rows,
            as_json,
            table(rows, ("failed_at", "job_id", "source", "event_id", "attempts", "reason")),
        )


@failed.command("show")
@click.argument("job_id")
@json_option
@operator_command
def failed_show(job_id: str, as_json: bool) -> None:
    """One failed job: its event, the reason and the whole trail."""
    data = fl.show_failed(get_ops(), job_id)
    emit(data, as_json, event_text(data))


@main.command()
@click.argument("job_ids", nargs=-1)
@click.option("--all", "all_", is_flag=True, help="Requeue every failed job.")
@reason_option("Why (recorded in each event's trail).", required=True)
@by_option
@json_option
@operator_command
def requeue(
    job_ids: tuple[str, ...], all_: bool, reason: str, by: str | None, as_json: bool
) -> None:
    """Requeue failed jobs (attempts reset, new job ids); who and why go to the trail."""
    if all_ == bool(job_ids):
        raise click.UsageError("name failed job ids, or pass --all (not both)")
    done = fl.requeue(get_ops(), None if all_ else list(job_ids), by=by or whoami(), reason=reason)
    emit(
        {"requeued": done},
        as_json,
        table(done, ("source", "event_id", "job_id", "previous_job_id", "skipped")),
    )


@main.command()
@reason_option("Why (shown by status).", required=True)
@by_option
@json_option
@operator_command
def pause(reason: str, by: str | None, as_json: bool) -> None:
    """Pause delivery on every worker: jobs wait, none fail, until resume."""
    data = st.pause_delivery(get_ops(), reason, by or whoami())
    emit(data, as_json, "paused" + ("" if data["changed"] else f" already: {cell(data['reason'])}"))


@main.command()
@by_option
@json_option
@operator_command
def resume(by: str | None, as_json: bool) -> None:
    """Lift the pause (operator or 401/403) and requeue the jobs that waited on it."""
    data = st.resume_delivery(get_ops(), by or whoami())
    text = ("resumed" if data["changed"] else "was not paused") + f"; {data['requeued']} requeued"
    emit(data, as_json, text)


from consumer.cli import ops_replay  # noqa: E402 - its commands register on main

__all__ = ["ops_replay"]
