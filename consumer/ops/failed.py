"""Failed erasure jobs: list and show them with their reason, and requeue them after a fix."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from redis.client import Pipeline
from redis.exceptions import WatchError

from consumer.errors import NotFound, OperatorError
from consumer.logs import fields
from consumer.models import EventStatus, quoted
from consumer.ops import Ops, iso
from consumer.ops.events import show_event, summary
from consumer.queue import (
    QueuedJob,
    delete,
    enqueue,
    failed_ids,
    failure_line,
    fetch_many,
    is_failed,
    job_key,
)
from consumer.store import events, search

log = logging.getLogger(__name__)


def _failed_jobs(ops: Ops, job_ids: list[str] | None = None) -> list[QueuedJob]:
    known = failed_ids(ops.queue)
    wanted = known if job_ids is None else job_ids
    missing = [j for j in wanted if j not in known]
    if missing:
        raise NotFound(f"no failed job {quoted(missing[0])} (see `zeeg-consumer failed`)")
    return fetch_many(ops.queue, wanted)


def _event_of(job: QueuedJob) -> tuple[str, str]:
    if job.event is None:
        raise OperatorError(f"job {job.id} is not an erasure job")
    return job.event


def list_failed(ops: Ops) -> list[dict[str, Any]]:
    """Every failed job with its event and the reason it failed."""
    jobs = _failed_jobs(ops)
    pairs = [_event_of(job) for job in jobs]
    rows: list[dict[str, Any]] = []
    for job, data in zip(jobs, search.event_hashes(ops.r, pairs), strict=True):
        event = summary(data) if data else {"status": EventStatus.EXPIRED}
        rows.append(
            {
                "job_id": job.id,
                "source": pairs[len(rows)][0],
                "event_id": pairs[len(rows)][1],
                "external_id": event.get("external_id"),
                "attempts": event.get("attempts", 0),
                "failed_at": iso(job.ended_at),
                "reason": event.get("last_error") or _rq_reason(job, bool(data)),
            }
        )
    return rows


def _rq_reason(job: QueuedJob, stored: bool) -> str:
    """Why RQ failed a job the delivery code did not fail itself (a timeout, a crash).

    The last line of the exception RQ kept names it; nothing else of the traceback is shown.
    """
    line = failure_line(job)
    if line:
        return line[:500]
    return "no reason recorded" if stored else "event expired"


def show_failed(ops: Ops, job_id: str) -> dict[str, Any]:
    """One failed job with its event's whole trail."""
    (job,) = _failed_jobs(ops, [job_id])
    source, event_id = _event_of(job)
    return {"job_id": job.id, **show_event(ops.r, source, event_id)}


def requeue(ops: Ops, job_ids: list[str] | None, *, by: str, reason: str) -> list[dict[str, Any]]:
    """Requeue the named failed jobs (all with None): fresh job ids, attempts reset, trail noted.

    Every id is checked first, so an unknown one requeues nothing.
    """
    if job_ids is not None and not job_ids:
        raise OperatorError("name the failed job ids to requeue, or ask for all")
    jobs = _failed_jobs(ops, job_ids)
    for job in jobs:
        source, event_id = _event_of(job)
        if not events.exists(ops.r, source, event_id):
            raise NotFound(f"event {source}/{event_id} of job {job.id} is past retention")
    return [_requeue_one(ops, job, by, reason) for job in jobs]


def _requeue_one(ops: Ops, job: QueuedJob, by: str, reason: str) -> dict[str, Any]:
    """One requeue in one transaction that watches the failed job.

    Two operators requeueing the same job at once get one new job between them: the other
    finds the job gone and says so, rather than running the event twice.
    """
    source, event_id = _event_of(job)
    new_id = uuid.uuid4().hex
    result = {"source": source, "event_id": event_id, "job_id": None, "previous_job_id": job.id}
    with ops.conns.raw.pipeline() as pipe:
        pipe.watch(job_key(job.id))  # type: ignore[no-untyped-call]
        if not is_failed(pipe, ops.queue, job.id):
            return {**result, "skipped": "requeued already"}
        try:
            _write_requeue(ops, pipe, job, new_id, by, reason)
        except WatchError:  # gone between the check and the delete (queue.JobGone)
            return {**result, "skipped": "requeued already"}
    log.info(
        "requeued %s/%s as job %s (by %s)",
        source,
        event_id,
        new_id,
        by,
        extra=fields(source, event_id, new_id, "requeued"),
    )
    return {**result, "job_id": new_id}


def _write_requeue(
    ops: Ops, pipe: Pipeline, job: QueuedJob, new_id: str, by: str, reason: str
) -> None:
    """The requeue's writes, in one MULTI/EXEC: old job gone, state reset, trail, new job."""
    source, event_id = _event_of(job)
    pipe.multi()  # RQ's enqueue expects a transaction already open on a caller's pipeline
    delete(job, pipe)
    now = ops.clock()
    events.reset_for_requeue(
        pipe, source, event_id, new_id, previous=job.id, by=by, reason=reason, now=now
    )
    enqueue(ops.queue, source, event_id, new_id, ops.settings.delivery.job_timeout_seconds, pipe)
    pipe.execute()
