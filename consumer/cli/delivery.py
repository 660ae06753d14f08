"""status, failed (and failed show), requeue, pause and resume: watching and steering delivery."""

from __future__ import annotations

from typing import Any

import click

from consumer.cli.common import by_option, get_ops, operator_command, reason_option, whoami
from consumer.cli.output import cell, emit, event_text, json_option, table
from consumer.ops import failed as fl
from consumer.ops import status as st


@click.command()
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
        f"rate limit   {_held(d['rate_limited_for_seconds'])}, {_rate(d['rate'])}",
        "last hour    " + (" ".join(f"{k}:{v}" for k, v in sorted(d["last_hour"].items())) or "-"),
        f"SLA {sla['hours']:g} h   at risk {sla['at_risk']}, past half {sla['past_half_sla']}"
        + (f", oldest received {sla['oldest_at_risk']}" if sla["oldest_at_risk"] else ""),
    ]
    return "\n".join(lines)


def _held(seconds: float) -> str:
    return f"held {seconds:g} s" if seconds else "free"


def _rate(rate: dict[str, float]) -> str:
    configured, current = rate["configured_per_second"], rate["current_per_second"]
    if configured <= 0:
        return "unlimited"
    return f"{current:g}/s now of {configured:g}/s configured"


def _age(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.0f} s ago"


@click.group(invoke_without_command=True)
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


@click.command()
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


@click.command()
@reason_option("Why (shown by status).", required=True)
@by_option
@json_option
@operator_command
def pause(reason: str, by: str | None, as_json: bool) -> None:
    """Pause delivery on every worker: jobs wait, none fail, until resume."""
    data = st.pause_delivery(get_ops(), reason, by or whoami())
    emit(data, as_json, "paused" + ("" if data["changed"] else f" already: {cell(data['reason'])}"))


@click.command()
@by_option
@json_option
@operator_command
def resume(by: str | None, as_json: bool) -> None:
    """Lift the pause (operator or 401/403) and requeue the jobs that waited on it."""
    data = st.resume_delivery(get_ops(), by or whoami())
    text = ("resumed" if data["changed"] else "was not paused") + f"; {data['requeued']} requeued"
    emit(data, as_json, text)
