"""The state of delivery at a glance, and the operator's pause and resume."""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

from consumer.ops import Ops, iso
from consumer.queue import job_counts, oldest_queued_at, resume, worker_names
from consumer.store import audit, chart, events, pause, ratelimit

HOUR = 3600.0
log = logging.getLogger(__name__)


def status(ops: Ops) -> dict[str, Any]:
    """Queue, registries, workers, pause, last hour's deletions and events at SLA risk."""
    now = ops.clock()
    jobs = job_counts(ops.queue)
    oldest = oldest_queued_at(ops.queue)
    paused = pause.state(ops.r)
    return {
        "queued": jobs.queued,
        "oldest_queued_seconds": None if oldest is None else round(now - oldest, 3),
        "running": jobs.running,
        "scheduled": jobs.scheduled,
        "failed": jobs.failed,
        "workers": worker_names(ops.queue),
        "paused": None
        if paused is None
        else {"reason": paused.reason, "since": iso(paused.since), "by": paused.by},
        "rate_limited_for_seconds": round(pause.held_for(ops.r, now), 3),
        "rate": zeeg_rate(ops),
        "last_hour": last_hour(ops, now),
        "sla": sla_risk(ops, now),
    }


def last_hour(ops: Ops, now: float) -> dict[str, int]:
    """Outcomes recorded since an hour before now, by kind.

    The whole minutes in between come from the status page's minute counts (store.chart,
    written in each outcome's own transaction with its audit entry), the two partial minutes
    at the ends from the audit stream: at most two minutes of entries read, not an hour's.
    """
    since = now - HOUR
    first_whole, current = chart.minute_of(since) + 1, chart.minute_of(now)
    head = audit.entries(ops.r, since, first_whole * chart.MINUTE - 0.0005)  # its last ms
    tail = audit.entries(ops.r, current * chart.MINUTE)
    counts = Counter(e.get("outcome", "") for stream in (head, tail) for e in stream)
    whole = chart.series(ops.r, (current - 1) * chart.MINUTE, current - first_whole)
    for _, minute in whole:
        counts.update(minute)
    return {outcome: n for outcome, n in counts.items() if n > 0}


def zeeg_rate(ops: Ops) -> dict[str, float]:
    """The configured rate of calls to Zeeg and the adaptive rate now (0 means unlimited)."""
    configured = ops.settings.zeeg.rate_limit_per_second
    current = ratelimit.current_rate(ops.r, configured)
    return {"configured_per_second": configured, "current_per_second": round(current, 3)}


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
    resumed = resume(ops.queue)
    log.warning("delivery resumed by %s", by)
    for job in resumed.woken:
        if job.event is not None:
            events.note(ops.r, *job.event, "resumed", ops.clock(), by=by, job_id=job.id)
    return {
        "paused": False,
        "changed": resumed.lifted,
        "was": None if was is None else was.reason,
        "requeued": len(resumed.woken),
    }
