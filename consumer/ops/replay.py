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

from consumer.ops import Ops
from consumer.ops.events import UNFINISHED, Filters, matching, summary
from consumer.queue import QueuedJob, delete, enqueue, fetch, job_key
from consumer.store import events, keys

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


def replay_one(ops: Ops, data: dict[str, str], *, by: str, reason: str) -> dict[str, Any]:
    """Enqueue one stored event again under a new job id, unless it moved on since selected.

    The event and its job are watched: if a worker picks the event up meanwhile, the replay
    of this event is skipped (and says so) rather than run beside the worker.
    """
    source, event_id, previous = data["source"], data["event_id"], data.get("job_id") or ""
    key = keys.event(source, event_id)
    result: dict[str, Any] = {"source": source, "event_id": event_id, "job_id": None}
    with ops.conns.raw.pipeline() as pipe:
        pipe.watch(key, *([job_key(previous)] if previous else []))  # type: ignore[no-untyped-call]
        current = [_text(v) for v in pipe.hmget(key, ["status", "job_id"])]
        old = _live_job(ops, previous)
        if current != [data.get("status"), data.get("job_id")] or _started(old):
            return {**result, "skipped": "changed since it was selected"}
        try:
            new_id = _write_replay(ops, pipe, data, old, by, reason)
        except WatchError:
            return {**result, "skipped": "picked up by a worker while replaying"}
    log.info("replayed %s/%s as job %s (by %s)", source, event_id, new_id, by)
    return {**result, "job_id": new_id}


def _write_replay(
    ops: Ops, pipe: Pipeline, data: dict[str, str], old: QueuedJob | None, by: str, reason: str
) -> str:
    """The replay's writes, in one MULTI/EXEC; returns the new job id."""
    source, event_id = data["source"], data["event_id"]
    key, new_id = keys.event(source, event_id), uuid.uuid4().hex
    stale = [k for k in data if k.startswith(("t:", "o:"))] + ["completed_at", "last_error"]
    entry = {
        "at": ops.clock(),
        "what": "replayed",
        "by": by,
        "reason": reason,
        "dedupe": "bypassed",
        "job_id": new_id,
        "previous_job_id": data.get("job_id"),
    }
    ttl = int(ops.settings.intake.event_log_retention_days * events.DAY)
    pipe.multi()  # RQ's enqueue expects a transaction already open on a caller's pipeline
    if old is not None:
        delete(old, pipe)  # the superseded job must not run beside the new one
    pipe.hdel(key, *stale)
    pipe.hset(key, mapping=_fresh_state(data, new_id, reason))
    pipe.expire(key, ttl)
    events.append_trail(pipe, source, event_id, entry, ttl)
    # A replayed event is pending again. One still pending keeps its SLA clock (a replay does
    # not make a late erasure look on time); a done one re-enters with the replay's time.
    pipe.zadd(keys.PENDING, {events.pending_member(source, event_id): ops.clock()}, nx=True)
    timeout = ops.settings.delivery.job_timeout_seconds
    enqueue(ops.queue, source, event_id, new_id, timeout, pipe)
    pipe.execute()
    return new_id


def _text(value: bytes | str | None) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


def _started(job: QueuedJob | None) -> bool:
    return job is not None and job.status == "started"


def _fresh_state(data: dict[str, str], job_id: str, reason: str) -> dict[Any, Any]:
    """The event's log fields (its hash may have expired before the log) and a queued state."""
    fields = {k: data.get(k, "") for k in _LOG_FIELDS}
    state = {"job_id": job_id, "status": "queued", "attempts": "0", "replayed": "1"}
    return {**fields, **state, "replay_reason": reason}


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
