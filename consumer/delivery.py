"""The erasure of one event: pause and hold checks, each target in turn, retry policy.

Transient failures (429, 5xx, timeouts) reschedule the event with backoff; 401/403 pause all
delivery without spending an attempt; other 4xx and exhausted retries fail the job.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from consumer import models
from consumer.context import Context
from consumer.erasure import erase_target
from consumer.errors import DeliveryFailed, ZeegAuth, ZeegRejected, ZeegTransient
from consumer.models import Event
from consumer.settings import Target
from consumer.store import events, metrics, pause
from consumer.store.intake import enqueue

log = logging.getLogger(__name__)


def handle_delivery(ctx: Context, source: str, event_id: str) -> dict[str, Any]:
    """Erase every target of one stored event; returns a JSON-able summary."""
    event = events.load(ctx.r, source, event_id)
    if event is None:
        log.warning("event %s/%s is unknown or expired; nothing to do", source, event_id)
        return {"status": "unknown_event"}
    if event.status == "done":
        return {"status": "done"}
    wait, why = _blocked(ctx)
    if wait > 0:
        return _reschedule(ctx, event, wait, why)
    events.update(ctx.r, source, event_id, status="running")
    done = events.target_outcomes(ctx.r, source, event_id)
    try:
        for target in _targets(ctx, event):
            if target.object not in done:
                done[target.object] = erase_target(ctx, event, target)
                events.record_target(ctx.r, source, event_id, target.object, done[target.object])
    except ZeegTransient as e:
        return _retry(ctx, event, e)
    except ZeegAuth as e:
        pause.pause(ctx.r, f"Zeeg answered {e.status}: check ZEEG_API_TOKEN", ctx.clock())
        log.error("delivery paused: Zeeg answered %s", e.status)
        return _reschedule(ctx, event, ctx.settings.delivery.auth_probe_seconds, "auth_paused")
    except ZeegRejected as e:
        _fail(ctx, event, str(e), e.status)
    now = ctx.clock()
    events.update(ctx.r, source, event_id, status="done", completed_at=repr(now))
    events.append_trail(ctx.r, source, event_id, {"at": now, "what": "done"})
    return {"status": "done", "outcomes": {k: [o.outcome for o in v] for k, v in done.items()}}


def _targets(ctx: Context, event: Event) -> list[Target]:
    """The event's target objects with the source's current resolver chains."""
    source = ctx.settings.sources.get(event.source)
    chains = {t.object: t for t in source.targets} if source else {}
    return [chains.get(obj, Target(obj)) for obj in event.targets]


def _blocked(ctx: Context) -> tuple[float, str]:
    """Seconds to wait before calling Zeeg, and why (0 when free to go)."""
    if pause.state(ctx.r) is not None:
        return ctx.settings.delivery.auth_probe_seconds, "auth_paused"
    held = pause.held_for(ctx.r, ctx.clock())
    return (held, "rate_limited") if held > 0 else (0.0, "")


def backoff(ctx: Context, attempt: int) -> float:
    """Exponential backoff with full jitter for the given attempt (1-based)."""
    d = ctx.settings.delivery
    return ctx.rng.uniform(
        0, min(d.backoff_max_seconds, d.backoff_base_seconds * 2 ** (attempt - 1))
    )


def _retry(ctx: Context, event: Event, error: ZeegTransient) -> dict[str, Any]:
    attempts = event.attempts + 1
    events.update(ctx.r, event.source, event.event_id, attempts=attempts, last_error=str(error))
    if attempts >= ctx.settings.delivery.max_attempts:
        _fail(ctx, event, f"retries exhausted after {attempts} attempts: {error}", error.status)
    delay = error.retry_after if error.retry_after is not None else backoff(ctx, attempts)
    if error.status == 429:
        pause.hold_until(ctx.r, ctx.clock() + delay, ctx.clock())
    return _reschedule(ctx, event, delay, "retrying")


def _reschedule(ctx: Context, event: Event, delay: float, status: str) -> dict[str, Any]:
    """A new job for the same event after delay seconds; the event keeps its attempts."""
    job_id = uuid.uuid4().hex
    timeout = ctx.settings.delivery.job_timeout_seconds
    enqueue(ctx.queue, event.source, event.event_id, job_id, timeout, delay=delay)
    events.update(ctx.r, event.source, event.event_id, status=status, job_id=job_id)
    entry = {"at": ctx.clock(), "what": status, "retry_in": round(delay, 3), "job_id": job_id}
    events.append_trail(ctx.r, event.source, event.event_id, entry)
    return {"status": status, "retry_in": delay, "job_id": job_id}


def _fail(ctx: Context, event: Event, reason: str, status: int | None) -> None:
    """Mark the event failed and raise, so RQ keeps the job in its failed registry."""
    now = ctx.clock()
    events.update(ctx.r, event.source, event.event_id, status="failed", last_error=reason)
    events.append_trail(
        ctx.r, event.source, event.event_id, {"at": now, "what": "failed", "status": status}
    )
    metrics.incr(ctx.r, "zeeg_consumer_outcomes_total", outcome=models.FAILED)
    raise DeliveryFailed(reason)
