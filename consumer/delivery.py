"""The erasure of one event, as a pure function of its context: resolve, delete, record.

Transient failures (429, 5xx, timeouts) reschedule the event with backoff; 401/403 pause all
delivery without spending an attempt; other 4xx and exhausted retries fail the job.
"""

from __future__ import annotations

import json
import logging
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import redis
from rq import Queue

from consumer import models
from consumer.errors import DeliveryFailed, ZeegAuth, ZeegError, ZeegRejected, ZeegTransient
from consumer.models import Event, Outcome
from consumer.settings import Settings, Target
from consumer.store import audit, events, keys, mappings, metrics, pause
from consumer.store.intake import enqueue
from consumer.zeeg import ZeegClient

log = logging.getLogger(__name__)


@dataclass
class Context:
    """What a delivery needs; built once per worker process."""

    settings: Settings
    r: redis.Redis
    queue: Queue
    zeeg: ZeegClient
    clock: Callable[[], float] = time.time
    rng: random.Random = field(default_factory=random.Random)


@dataclass(frozen=True)
class Record:
    """A resolved record id, with when it was linked if it came from the mapping store."""

    record_id: str
    linked_at: float | None = None


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


def resolve(ctx: Context, event: Event, target: Target) -> list[Record]:
    """Record ids for one target: the first resolver in the chain that finds any wins."""
    for step in target.resolve:
        if step.startswith("payload:") and event.hints.get(target.object):
            return [Record(rid) for rid in event.hints[target.object]]
        if step == "store":
            found = mappings.get(ctx.r, event.source, target.object, event.external_id)
            if found:
                return [Record(m.record_id, m.linked_at) for m in found]
    return []


def erase_target(ctx: Context, event: Event, target: Target) -> list[Outcome]:
    """Erase the records of one target, recording each outcome as it happens."""
    records = resolve(ctx, event, target)
    if not records:
        now = ctx.clock()
        ttl = int(ctx.settings.retention.tombstone_days * 86400)
        ctx.r.set(keys.tombstone(event.source, event.external_id), repr(now), ex=ttl)
        return [_record(ctx, event, Outcome(target.object, models.NOT_MAPPED))]
    return [_erase_record(ctx, event, target.object, rec) for rec in records]


def _erase_record(ctx: Context, event: Event, obj: str, rec: Record) -> Outcome:
    field_name = f"o:{obj}:{rec.record_id}"
    earlier = ctx.r.hget(keys.event(event.source, event.event_id), field_name)
    if earlier:  # done in an earlier run of this same event
        return Outcome(**json.loads(str(earlier)))
    if _is_stale(rec, event):
        return _record(ctx, event, Outcome(obj, models.STALE, rec.record_id), field_name)
    if ctx.settings.zeeg.dry_run:
        return _record(ctx, event, Outcome(obj, models.DRY_RUN, rec.record_id), field_name)
    marker = keys.erased(obj, rec.record_id)
    if ctx.r.exists(marker):
        outcome = Outcome(obj, models.ALREADY_DELETED, rec.record_id, None, "deletion recorded")
    else:
        status = _call_delete(ctx, event, obj, rec.record_id)
        kind = models.DELETED if status == 200 else models.ALREADY_DELETED
        outcome = Outcome(obj, kind, rec.record_id, status)
        ttl = int(ctx.settings.retention.tombstone_days * 86400)
        ctx.r.set(marker, f"{event.source}/{event.event_id}", ex=ttl)
    mappings.remove(ctx.r, event.source, obj, event.external_id, rec.record_id)
    return _record(ctx, event, outcome, field_name)


def _is_stale(rec: Record, event: Event) -> bool:
    """A mapping linked after the event occurred belongs to a re-created contact."""
    if rec.linked_at is None or event.occurred_at is None:
        return False
    return rec.linked_at > event.occurred_at


def _call_delete(ctx: Context, event: Event, obj: str, record_id: str) -> int:
    """One DELETE, with its attempt written to the event's trail either way."""
    entry: dict[str, Any] = {"what": "attempt", "object": obj, "record_id": record_id}
    try:
        result = ctx.zeeg.delete_record(obj, record_id)
    except ZeegError as e:
        entry.update(at=ctx.clock(), status=e.status, error=str(e))
        events.append_trail(ctx.r, event.source, event.event_id, entry)
        metrics.incr(ctx.r, "zeeg_consumer_zeeg_requests_total", status=str(e.status or "error"))
        raise
    entry.update(at=ctx.clock(), status=result.status)
    events.append_trail(ctx.r, event.source, event.event_id, entry)
    metrics.incr(ctx.r, "zeeg_consumer_zeeg_requests_total", status=str(result.status))
    return result.status


def _record(ctx: Context, event: Event, outcome: Outcome, field_name: str = "") -> Outcome:
    """Write one outcome to the event, the audit stream, the trail and the metrics."""
    now = ctx.clock()
    with ctx.r.pipeline() as pipe:
        if field_name:
            pipe.hset(keys.event(event.source, event.event_id), field_name, _dump(outcome))
        audit.append(pipe, event, outcome, now, ctx.settings.retention.audit_retention_days)
        events.append_trail(pipe, event.source, event.event_id, {"at": now, **outcome.__dict__})
        metrics.incr(pipe, "zeeg_consumer_outcomes_total", outcome=outcome.outcome)
        pipe.execute()
    log.info(
        "event %s/%s %s %s: %s",
        event.source,
        event.event_id,
        outcome.object,
        outcome.record_id or "-",
        outcome.outcome,
    )
    return outcome


def _dump(outcome: Outcome) -> str:
    return json.dumps(outcome.__dict__, separators=(",", ":"))


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
