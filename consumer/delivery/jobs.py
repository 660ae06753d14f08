"""RQ entry points: thin shells that build their context once and call handle_* functions."""

from __future__ import annotations

import functools
import random
import threading
import time
from typing import Any

from consumer import queue
from consumer.delivery.context import Context
from consumer.delivery.gate import DeliveryGate
from consumer.delivery.policy import handle_delivery
from consumer.errors import DeliveryFailed
from consumer.models import EventStatus
from consumer.settings import Settings, load_settings
from consumer.store import metrics
from consumer.store.connection import connect
from consumer.zeeg.client import ZeegClient

_context: Context | None = None
_threads = threading.local()  # a job thread's own copy of _context: (_context, copy)
WAITING = frozenset({EventStatus.AUTH_PAUSED, EventStatus.RATE_LIMITED})
WAITING_RESULT_TTL = 600


def build_context(settings: Settings) -> Context:
    """The delivery context for settings: Redis clients, the queue, a gated Zeeg client."""
    conns = connect(settings.redis_url, settings.redis_sentinel)
    rng = random.Random()  # noqa: S311 - jitter, not cryptography
    gate = DeliveryGate(conns.text, settings, time.time, rng)
    return Context(
        settings=settings,
        r=conns.text,
        queue=queue.erasure_queue(conns.raw),
        zeeg=ZeegClient(
            settings.zeeg, gate=gate, observe=functools.partial(metrics.zeeg_call, conns.text)
        ),
        clock=time.time,
        rng=rng,
    )


def set_context(context: Context | None) -> None:
    """Use context for the jobs of this process (the worker command and tests set it)."""
    global _context  # one context per worker process, set before work starts
    _context = context


def _get_context() -> Context:
    """The process's context; in another thread than the main one (jobs in flight), a copy
    with its own Zeeg client, kept for that thread's later jobs while the context stays."""
    if _context is None:
        set_context(build_context(load_settings()))
    assert _context is not None
    if threading.current_thread() is threading.main_thread():
        return _context
    base, own = getattr(_threads, "context", (None, None))
    if base is not _context or own is None:
        own = _context.with_own_client()
        _threads.context = (_context, own)
    return own


def deliver(source: str, event_id: str) -> dict[str, Any]:
    """Erase the records of one stored event (the job every webhook enqueues)."""
    try:
        summary = handle_delivery(_get_context(), source, event_id, queue.current_job_id())
    except DeliveryFailed:
        queue.no_crash_retries()
        raise
    keep = _get_context().settings.retention.job_result_seconds
    # A run that only rescheduled the event: its result is worth keeping even less.
    queue.keep_result_for(min(keep, WAITING_RESULT_TTL) if summary["status"] in WAITING else keep)
    return summary
