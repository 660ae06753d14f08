"""The state of delivery at a glance, and the operator's pause and resume."""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

from rq import Queue, Worker
from rq.exceptions import InvalidJobOperation
from rq.job import Job
from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry
from rq.serializers import JSONSerializer

from consumer.models import EventStatus
from consumer.ops import Ops, iso
from consumer.store import audit, events, pause, search

HOUR = 3600.0
log = logging.getLogger(__name__)


def status(ops: Ops) -> dict[str, Any]:
    """Queue, registries, workers, pause, last hour's deletions and events at SLA risk."""
    now = ops.clock()
    queue = ops.queue
    paused = pause.state(ops.r)
    return {
        "queued": len(queue),
        "oldest_queued_seconds": _oldest_queued_age(ops, now),
        "running": StartedJobRegistry(queue=queue).count,
        "scheduled": _scheduled(queue).count,
        "failed": FailedJobRegistry(queue=queue).count,
        "workers": sorted(w.name for w in Worker.all(queue=queue)),
        "paused": None
        if paused is None
        else {"reason": paused.reason, "since": iso(paused.since), "by": paused.by},
        "rate_limited_for_seconds": round(pause.held_for(ops.r, now), 3),
        "last_hour": dict(Counter(e.get("outcome", "") for e in audit.entries(ops.r, now - HOUR))),
        "sla": sla_risk(ops, now),
    }


def _scheduled(queue: Queue) -> ScheduledJobRegistry:
    return ScheduledJobRegistry(queue=queue)  # type: ignore[no-untyped-call]  # rq leaves its __init__ untyped


def _oldest_queued_age(ops: Ops, now: float) -> float | None:
    ids = ops.queue.get_job_ids(0, 1)
    job = Job.fetch_many(ids, connection=ops.conns.raw, serializer=JSONSerializer)
    if not job or job[0] is None or job[0].enqueued_at is None:
        return None
    return round(now - job[0].enqueued_at.timestamp(), 3)


def sla_risk(ops: Ops, now: float) -> dict[str, Any]:
    """Events not done after delivery.sla_hours (at risk), and after half of it (early warning).

    Read from the pending index (events not done, scored by when they were received), so the
    cost does not grow with the retained event log.
    """
    hours = ops.settings.delivery.sla_hours
    at_risk = events.at_risk_count(ops.r, now, hours)
    past_half = events.at_risk_count(ops.r, now, hours / 2)
    oldest = events.at_risk(ops.r, now, hours, limit=1)
    return {
        "hours": hours,
        "at_risk": at_risk,
        "past_half_sla": past_half,
        "oldest_at_risk": iso(oldest[0][2]) if oldest else None,
    }


def pause_delivery(ops: Ops, reason: str, by: str) -> dict[str, Any]:
    """Pause every worker (jobs wait, none fail) until resume."""
    created = pause.pause(ops.r, reason, ops.clock(), by=by)
    log.warning("delivery paused by %s", by)
    state = pause.state(ops.r)
    assert state is not None
    return {"paused": True, "changed": created, "reason": state.reason, "by": state.by}


def resume_delivery(ops: Ops, by: str) -> dict[str, Any]:
    """Lift the pause and move jobs waiting on it back to the queue at once."""
    was = pause.state(ops.r)
    changed = pause.resume(ops.r)
    log.warning("delivery resumed by %s", by)
    registry = _scheduled(ops.queue)
    ids = registry.get_job_ids()
    moved = 0
    for job in Job.fetch_many(ids, connection=ops.conns.raw, serializer=JSONSerializer):
        if job is None or len(job.args) != 2:
            continue
        source, event_id = str(job.args[0]), str(job.args[1])
        if search.statuses(ops.r, [(source, event_id)])[0] == EventStatus.AUTH_PAUSED:
            try:
                registry.requeue(job)
            except InvalidJobOperation:  # a scheduler moved it first: it runs anyway
                continue
            events.note(ops.r, source, event_id, "resumed", ops.clock(), by=by, job_id=job.id)
            moved += 1
    return {
        "paused": False,
        "changed": changed,
        "was": None if was is None else was.reason,
        "requeued": moved,
    }
