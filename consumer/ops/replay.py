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

from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer

from consumer.ops import Ops
from consumer.ops.events import UNFINISHED, Filters, matching, summary
from consumer.store import events, keys
from consumer.store.intake import enqueue

SAMPLE = 10
log = logging.getLogger(__name__)
# Stored log fields copied back onto the event hash (it may have expired before the log).
_LOG_FIELDS = (
    "source",
    "event_id",
    "event_type",
    "external_id",
    "occurred_at",
    "received_at",
    "targets",
    "hints",
)


def select(ops: Ops, f: Filters) -> list[dict[str, str]]:
    """The events a replay with these filters would run, oldest first.

    Without a status or outcome filter only unfinished events are picked; an event a worker
    is running right now is never picked.
    """
    if not f.statuses and not f.outcome:
        f = replace(f, statuses=UNFINISHED)
    return [e for e in matching(ops.r, f) if e.get("status") != "running"]


def preview(selected: list[dict[str, str]]) -> dict[str, Any]:
    """The dry-run answer: how many events, and a sample of them."""
    return {"count": len(selected), "sample": [summary(e) for e in selected[:SAMPLE]]}


def replay_one(ops: Ops, data: dict[str, str], *, by: str, reason: str) -> dict[str, str]:
    """Enqueue one stored event again under a new job id (one transaction)."""
    source, event_id, previous = data["source"], data["event_id"], data.get("job_id")
    new_id = uuid.uuid4().hex
    old = _live_job(ops, previous or "")
    stale = [k for k in data if k.startswith(("t:", "o:"))] + ["completed_at", "last_error"]
    entry = {
        "at": ops.clock(),
        "what": "replayed",
        "by": by,
        "reason": reason,
        "dedupe": "bypassed",
        "job_id": new_id,
        "previous_job_id": previous,
    }
    ttl = int(ops.settings.intake.event_log_retention_days * events.DAY)
    with ops.conns.raw.pipeline() as pipe:
        pipe.multi()  # RQ's enqueue expects a transaction already open on a caller's pipeline
        if old is not None:
            old.delete(pipeline=pipe)  # the superseded job must not run beside the new one
        pipe.hdel(keys.event(source, event_id), *stale)
        pipe.hset(keys.event(source, event_id), mapping=_fresh_state(data, new_id, reason))
        pipe.expire(keys.event(source, event_id), ttl)
        events.append_trail(pipe, source, event_id, entry, ttl)
        enqueue(
            ops.queue, source, event_id, new_id, ops.settings.delivery.job_timeout_seconds, pipe
        )
        pipe.execute()
    log.info("replayed %s/%s as job %s (by %s)", source, event_id, new_id, by)
    return {"source": source, "event_id": event_id, "job_id": new_id}


def _fresh_state(data: dict[str, str], job_id: str, reason: str) -> dict[Any, Any]:
    """The event's log fields (its hash may have expired before the log) and a queued state."""
    fields = {k: data.get(k, "") for k in _LOG_FIELDS}
    state = {"job_id": job_id, "status": "queued", "attempts": "0", "replayed": "1"}
    return {**fields, **state, "replay_reason": reason}


def _live_job(ops: Ops, job_id: str) -> Job | None:
    """The event's current job unless it is gone or already finished."""
    if not job_id:
        return None
    try:
        job = Job.fetch(job_id, connection=ops.conns.raw, serializer=JSONSerializer)
    except NoSuchJobError:
        return None
    return None if job.get_status() == JobStatus.FINISHED else job


def replay(
    ops: Ops, selected: list[dict[str, str]], *, by: str, reason: str
) -> Iterator[dict[str, str]]:
    """Replay each selected event in turn; stop iterating to cancel between events."""
    for data in selected:
        yield replay_one(ops, data, by=by, reason=reason)
