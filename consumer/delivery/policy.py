"""The erasure of one event: the auth probe, each target in turn, the retry policy.

Every Zeeg call passes the delivery gate (auth pause, shared 429 hold, shared token bucket);
a long wait there reschedules the event without spending an attempt. Transient failures
(429, 5xx, timeouts, connection errors) reschedule it with full-jitter backoff; 401/403
pause all delivery without spending an attempt; other 4xx, unreadable answers and exhausted
retries fail the job.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from typing import Any

from consumer import models
from consumer.delivery import probe
from consumer.delivery.context import Context
from consumer.delivery.erasure import erase_target
from consumer.delivery.gate import pause_wait
from consumer.errors import DeliveryDeferred, DeliveryFailed, ZeegAuth, ZeegError, ZeegTransient
from consumer.logs import fields
from consumer.models import Event, EventStatus, Outcome
from consumer.queue import enqueue
from consumer.settings import Target
from consumer.store import events, metrics, pause

log = logging.getLogger(__name__)


def handle_delivery(ctx: Context, source: str, event_id: str, job_id: str = "") -> dict[str, Any]:
    """Erase every target of one stored event; returns a JSON-able summary."""
    data = events.load_hash(ctx.r, source, event_id)  # read once: the event and its targets
    event = Event.from_hash(data) if data.get("external_id") else None
    if event is None:
        # Lost or past retention: fail visibly (the failed registry) rather than end quietly.
        log.error(
            "event %s/%s is unknown or past retention",
            source,
            event_id,
            extra=fields(source, event_id, job_id, "unknown"),
        )
        raise DeliveryFailed(f"event {source}/{event_id} is unknown or past retention")
    if event.status == EventStatus.DONE:
        return {"status": EventStatus.DONE}
    if event.targets and not probe.delivery_open(ctx, event.targets[0]):
        wait = pause_wait(ctx.r, ctx.settings, ctx.rng)
        return _reschedule(ctx, event, wait, EventStatus.AUTH_PAUSED, "auth_paused")
    events.mark_running(ctx.r, source, event_id, job_id or event.job_id, ctx.clock())
    event = dataclasses.replace(event, job_id=job_id or event.job_id)  # owns its record claims
    try:
        done = _erase_all(ctx, event, events.target_outcomes(ctx.r, source, event_id, data))
    except DeliveryDeferred as e:
        return _reschedule(ctx, event, e.delay, EventStatus(e.why), _deferred_why(e.why))
    except ZeegTransient as e:
        return _retry(ctx, event, e)
    except ZeegAuth as e:
        return _auth_pause(ctx, event, e)
    except ZeegError as e:
        # Other 4xx, or an answer we cannot read (not JSON): retrying blind would not help.
        _fail(ctx, event, str(e), e.status)
    events.mark_done(ctx.r, source, event_id, ctx.clock(), event.received_at)
    return {
        "status": EventStatus.DONE,
        "outcomes": {k: [o.outcome for o in v] for k, v in done.items()},
    }


def _erase_all(
    ctx: Context, event: Event, done: dict[str, list[Outcome]]
) -> dict[str, list[Outcome]]:
    """Each target not yet done (done: by an earlier run), its outcomes recorded as it completes."""
    for target in _targets(ctx, event):
        if target.object not in done:
            done[target.object] = erase_target(ctx, event, target)
            events.record_target(
                ctx.r, event.source, event.event_id, target.object, done[target.object]
            )
    return done


def _targets(ctx: Context, event: Event) -> list[Target]:
    """The event's target objects with the source's current resolver chains."""
    source = ctx.settings.sources.get(event.source)
    chains = {t.object: t for t in source.targets} if source else {}
    return [chains.get(obj, Target(obj)) for obj in event.targets]


def backoff(ctx: Context, attempt: int) -> float:
    """Exponential backoff with full jitter for the given attempt (1-based)."""
    d = ctx.settings.delivery
    return ctx.rng.uniform(
        0, min(d.backoff_max_seconds, d.backoff_base_seconds * 2 ** (attempt - 1))
    )


def _retry(ctx: Context, event: Event, error: ZeegTransient) -> dict[str, Any]:
    """Spend one attempt; fail when they are exhausted, else reschedule after a backoff."""
    attempts = event.attempts + 1
    events.count_attempt(ctx.r, event, attempts, str(error))
    if attempts >= ctx.settings.delivery.max_attempts:
        _fail(ctx, event, f"retries exhausted after {attempts} attempts: {error}", error.status)
    delay = error.retry_after if error.retry_after is not None else backoff(ctx, attempts)
    if error.status == 429 and error.retry_after is None:
        # Zeeg's limit is per account: every worker holds, not only this job. (A Retry-After
        # holds them already: the gate set it as the answer came, see DeliveryGate.throttled.)
        pause.hold_until(ctx.r, ctx.clock() + delay, ctx.clock())
    return _reschedule(ctx, event, delay, EventStatus.RETRYING, _transient_why(error.status))


def _auth_pause(ctx: Context, event: Event, error: ZeegAuth) -> dict[str, Any]:
    """Pause every worker; the first probe comes auth_probe_seconds later."""
    reason = f"Zeeg answered {error.status}: check ZEEG_API_TOKEN and its scopes"
    if pause.pause(ctx.r, reason, ctx.clock()):
        pause.claim_probe(ctx.r, ctx.settings.delivery.auth_probe_seconds)
        log.error(
            "delivery paused: Zeeg answered %s",
            error.status,
            extra=fields(event.source, event.event_id, event.job_id),
        )
    wait = pause_wait(ctx.r, ctx.settings, ctx.rng)
    return _reschedule(ctx, event, wait, EventStatus.AUTH_PAUSED, "zeeg_auth")


def _transient_why(status: int | None) -> str:
    """The retry's label: zeeg_429, zeeg_5xx or zeeg_network (each spends an attempt)."""
    if status == 429:
        return "zeeg_429"
    return "zeeg_network" if status is None else "zeeg_5xx"


def _deferred_why(why: str) -> str:
    """A wait without an attempt spent: rate_limited, auth_paused, or record_claimed."""
    return "record_claimed" if why == EventStatus.RETRYING else str(why)


def _reschedule(
    ctx: Context, event: Event, delay: float, status: EventStatus, why: str
) -> dict[str, Any]:
    """A new job for the same event after delay seconds; the event keeps its attempts.

    It goes ahead of the queued jobs once due: it already waited its turn, and behind a
    backlog its wait (and the event's SLA) would grow with every job queued after it.
    """
    job_id = uuid.uuid4().hex
    timeout = ctx.settings.delivery.job_timeout_seconds
    enqueue(ctx.queue, event.source, event.event_id, job_id, timeout, delay=delay, at_front=True)
    events.reschedule(ctx.r, event, status, job_id, delay, ctx.clock(), why)
    if status == EventStatus.AUTH_PAUSED:
        pause.note_waiting(ctx.r, job_id)
    return {"status": status, "retry_in": delay, "job_id": job_id}


def _fail(ctx: Context, event: Event, reason: str, status: int | None) -> None:
    """Mark the event failed and raise, so RQ keeps the job in its failed registry."""
    now = ctx.clock()
    events.mark_failed(ctx.r, event.source, event.event_id, now, reason, status, event.received_at)
    metrics.incr(ctx.r, "zeeg_consumer_outcomes_total", outcome=models.FAILED)
    log.error(
        "event %s/%s failed: %s",
        event.source,
        event.event_id,
        reason,
        extra=fields(event.source, event.event_id, event.job_id, models.FAILED),
    )
    raise DeliveryFailed(reason)
