"""RQ entry points: thin shells that build their context once and call handle_* functions."""

from __future__ import annotations

from typing import Any

from rq import get_current_job

from consumer.delivery.context import Context
from consumer.delivery.policy import handle_delivery
from consumer.errors import DeliveryFailed
from consumer.models import EventStatus
from consumer.queue import erasure_queue
from consumer.settings import Settings, load_settings
from consumer.store.connection import connect
from consumer.zeeg.client import ZeegClient

_context: Context | None = None
WAITING = frozenset({EventStatus.AUTH_PAUSED, EventStatus.RATE_LIMITED})
WAITING_RESULT_TTL = 600


def build_context(settings: Settings) -> Context:
    """The delivery context for settings: Redis clients, the queue and a Zeeg client."""
    conns = connect(settings.redis_url)
    return Context(
        settings=settings,
        r=conns.text,
        queue=erasure_queue(conns.raw),
        zeeg=ZeegClient(settings.zeeg),
    )


def set_context(context: Context | None) -> None:
    """Use context for the jobs of this process (the worker command and tests set it)."""
    global _context  # one context per worker process, set before work starts
    _context = context


def _get_context() -> Context:
    if _context is None:
        set_context(build_context(load_settings()))
    assert _context is not None
    return _context


def deliver(source: str, event_id: str) -> dict[str, Any]:
    """Erase the records of one stored event (the job every webhook enqueues)."""
    job = get_current_job()
    try:
        summary = handle_delivery(_get_context(), source, event_id, job.id if job else "")
    except DeliveryFailed:
        if job is not None:
            # A terminal failure must stay failed: RQ's retries are for crashed workers only.
            job.retries_left = 0
        raise
    if job is not None and summary["status"] in WAITING:
        # A run that only rescheduled the event: its result is not worth keeping for a day.
        job.result_ttl = WAITING_RESULT_TTL
    return summary
