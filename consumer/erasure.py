"""Erasing one target of one event: resolve its record ids, guard, DELETE, record outcomes.

Each record's outcome is written as it happens (event hash, audit stream, trail), so a re-run
of the same event skips records already done and never deletes twice.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from consumer import models
from consumer.context import Context
from consumer.errors import ZeegError
from consumer.models import Event, Outcome
from consumer.settings import Target
from consumer.store import audit, events, keys, mappings, metrics

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Record:
    """A resolved record id, with when it was linked if it came from the mapping store."""

    record_id: str
    linked_at: float | None = None


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
        entry = {"at": now, "what": "outcome", **outcome.__dict__}
        events.append_trail(pipe, event.source, event.event_id, entry)
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
