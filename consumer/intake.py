"""The intake transaction: dedupe key, stored event, event log entry and RQ job, all or none."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

import redis
from redis.exceptions import WatchError
from rq import Queue, Retry

from consumer.models import ParsedEvent
from consumer.queue import JOB_FUNC
from consumer.settings import Settings
from consumer.store import events, keys

# Retries that RQ itself spends only when a worker dies mid-job (the job is "abandoned");
# every other retry is scheduled by the job with its own backoff policy.
CRASH_RETRIES = 5


@dataclass(frozen=True)
class IntakeResult:
    """accepted (a new job) or duplicate (the job of the earlier delivery)."""

    status: str
    event_id: str
    job_id: str


def accept(
    r: redis.Redis,
    queue: Queue,
    event: ParsedEvent,
    *,
    now: float,
    dedupe_ttl_days: float,
    retention_days: float,
    job_timeout: int,
) -> IntakeResult:
    """Store and enqueue event unless (source, event_id) was accepted before."""
    dedupe_key = keys.dedupe(event.source, event.event_id)
    with r.pipeline() as pipe:
        while True:
            try:
                pipe.watch(dedupe_key)  # type: ignore[no-untyped-call]
                existing = pipe.get(dedupe_key)
                if existing is not None:
                    return IntakeResult("duplicate", event.event_id, str(existing))
                job_id = uuid.uuid4().hex
                pipe.multi()
                pipe.set(dedupe_key, job_id, ex=int(dedupe_ttl_days * 86400))
                events.write_new(pipe, event, job_id, now, retention_days)
                enqueue(queue, event.source, event.event_id, job_id, job_timeout, pipe)
                pipe.execute()
                return IntakeResult("accepted", event.event_id, job_id)
            except WatchError:
                continue


def accept_with(
    r: redis.Redis, queue: Queue, event: ParsedEvent, now: float, settings: Settings
) -> IntakeResult:
    """accept() with the dedupe, retention and job timeout the settings give."""
    return accept(
        r,
        queue,
        event,
        now=now,
        dedupe_ttl_days=settings.intake.dedupe_ttl_days,
        retention_days=settings.intake.event_log_retention_days,
        job_timeout=settings.delivery.job_timeout_seconds,
    )


def enqueue(
    queue: Queue,
    source: str,
    event_id: str,
    job_id: str,
    job_timeout: int,
    pipe: redis.client.Pipeline | None = None,
    delay: float = 0.0,
) -> None:
    """Put an erasure job for (source, event_id) on the queue, now or after delay seconds."""
    options = {
        "job_id": job_id,
        "job_timeout": job_timeout,
        "result_ttl": 86400,
        "failure_ttl": 30 * 86400,
        "retry": Retry(max=CRASH_RETRIES),
        "pipeline": pipe,
        "description": f"erase {source}/{event_id}",
    }
    if delay > 0:
        queue.enqueue_in(timedelta(seconds=delay), JOB_FUNC, source, event_id, **options)
    else:
        queue.enqueue(JOB_FUNC, source, event_id, **options)
