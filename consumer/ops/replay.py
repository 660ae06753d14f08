"""Replaying stored events from the event log: new jobs that deliberately bypass the
deduplication of intake, each replay written to the event's trail with who and why.

A replay runs the event afresh: recorded outcomes are cleared, and a record whose deletion
is already recorded is not deleted twice (it is audited already_deleted).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from redis.client import Pipeline
from redis.exceptions import WatchError

from consumer.logs import fields
from consumer.models import EventStatus
from consumer.ops import Ops
from consumer.ops.events import UNFINISHED, Filters, matching, summary
from consumer.queue import QueuedJob, delete, enqueue, fetch, job_key
from consumer.store import events

SAMPLE = 10
log = logging.getLogger(__name__)


def select(ops: Ops, f: Filters) -> list[dict[str, str]]:
    """The events a replay with these filters would run, oldest first.

    Without a status or outcome filter only unfinished events are picked; an event a worker
    is running right now is never picked.
    """
    if not f.statuses and not f.outcome:
        f = replace(f, statuses=UNFINISHED)
    return [e for e in matching(ops.r, f) if e.get("status") != EventStatus.RUNNING]


def preview(selected: list[dict[str, str]]) -> dict[str, Any]:
    """The dry-run answer: how many events, and a sample of them."""
    return {"count": len(selected), "sample": [summary(e) for e in selected[:SAMPLE]]}


def replay_one(ops: Ops, data: dict[str, str], *, by: str, reason: str) -> dict[str, Any]:
    """Enqueue one stored event again under a new job id, unless it moved on since selected.

    The event and its job are watched: if a worker picks the event up meanwhile, the replay
    of this event is skipped (and says so) rather than run beside the worker.
    """
    source, event_id, previous = data["source"], data["event_id"], data.get("job_id") or ""
    result: dict[str, Any] = {"source": source, "event_id": event_id, "job_id": None}
    with ops.conns.raw.pipeline() as pipe:
        also = [job_key(previous)] if previous else []
        current = events.watch_state(pipe, source, event_id, *also)
        old = _live_job(ops, previous)
        if current != [data.get("status"), data.get("job_id")] or _started(old):
            return {**result, "skipped": "changed since it was selected"}
        try:
            new_id = _write_replay(ops, pipe, data, old, by, reason)
        except WatchError:
            return {**result, "skipped": "picked up by a worker while replaying"}
    log.info(
        "replayed %s/%s as job %s (by %s)",
        source,
        event_id,
        new_id,
        by,
        extra=fields(source, event_id, new_id, "replayed"),
    )
    return {**result, "job_id": new_id}


def _write_replay(
    ops: Ops, pipe: Pipeline, data: dict[str, str], old: QueuedJob | None, by: str, reason: str
) -> str:
    """The replay's writes, in one MULTI/EXEC; returns the new job id."""
    source, event_id, new_id = data["source"], data["event_id"], uuid.uuid4().hex
    ttl = int(ops.settings.intake.event_log_retention_days * events.DAY)
    pipe.multi()  # RQ's enqueue expects a transaction already open on a caller's pipeline
    if old is not None:
        delete(old, pipe)  # the superseded job must not run beside the new one
    events.reset_for_replay(pipe, data, new_id, by=by, reason=reason, now=ops.clock(), ttl=ttl)
    timeout = ops.settings.delivery.job_timeout_seconds
    enqueue(ops.queue, source, event_id, new_id, timeout, pipe)
    pipe.execute()
    return new_id


def _started(job: QueuedJob | None) -> bool:
    return job is not None and job.status == "started"


def _live_job(ops: Ops, job_id: str) -> QueuedJob | None:
    """The event's current job unless it is gone or already finished."""
    job = fetch(ops.queue, job_id) if job_id else None
    return None if job is None or job.status == "finished" else job


def replay(
    ops: Ops, selected: list[dict[str, str]], *, by: str, reason: str
) -> Iterator[dict[str, Any]]:
    """Replay each selected event in turn; stop iterating to cancel between events."""
    for data in selected:
        yield replay_one(ops, data, by=by, reason=reason)
