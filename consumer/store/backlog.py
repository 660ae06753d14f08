"""The delivery backlog in numbers, for `status` and /admin/status."""

from __future__ import annotations

from dataclasses import dataclass

import redis

from consumer.queue import Queue, job_counts
from consumer.store import events, pause


@dataclass(frozen=True)
class Backlog:
    """Where the accepted deletions stand right now."""

    queued: int  # jobs ready to run
    scheduled: int  # jobs waiting for a retry, a 429 hold, the rate limit or the auth pause
    running: int  # jobs a worker is running (or a killed worker left, until recovered)
    failed: int  # jobs in the failed registry (requeueable)
    pending: int  # events accepted and not yet done
    at_risk: int  # pending events older than delivery.sla_hours
    paused: pause.PauseState | None  # the auth or operator pause, if any
    held_for: float  # seconds left of a 429 hold shared by every worker


def backlog(r: redis.Redis, queue: Queue, now: float, sla_hours: float) -> Backlog:
    """Counts from the RQ registries and our event records (r is the text client)."""
    jobs = job_counts(queue)
    return Backlog(
        queued=jobs.queued,
        scheduled=jobs.scheduled,
        running=jobs.running,
        failed=jobs.failed,
        pending=events.pending_count(r),
        at_risk=events.at_risk_count(r, now, sla_hours),
        paused=pause.state(r),
        held_for=pause.held_for(r, now),
    )
