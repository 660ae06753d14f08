"""What an erasure records on its event as it goes, per record: each record's outcome (the
first run to record it wins; its audit entry, trail entry and counter in the same
transaction), the record an `assert:` resolver created, and each call made to Zeeg.

Fields of the event hash (store.events owns the rest): `o:<object>:<record>` one record's
outcome as JSON (store.outcome_fields: its format); `o:<object>:` the target's outcome when
it found no record (not_mapped); `a:<object>` the id of the record assert: created.
"""

from __future__ import annotations

from typing import Any

import redis
from redis.client import Pipeline
from redis.exceptions import WatchError

from consumer.models import ALREADY_DELETED, DELETED, FAILED, NOT_MAPPED, Event, Outcome
from consumer.store import audit, chart, events, index, keys, metrics
from consumer.store.outcome_fields import pack, record_field, unpack


def note_attempt(
    r: redis.Redis,
    event: Event,
    target: tuple[str, str],
    now: float,
    status: int | None,
    error: str | None = None,
    method: str = "DELETE",
) -> None:
    """One call to Zeeg for (object, record id): an `attempt` on the trail, and its counter.

    A DELETE's entry has no method (the shape written before lookups existed); the GET of
    a verified deletion says `method: GET`.
    """
    obj, record_id = target
    entry: dict[str, Any] = {"what": "attempt", "object": obj, "record_id": record_id}
    if method != "DELETE":
        entry.update(method=method)
    entry.update(at=now, status=status)
    if error is not None:
        entry.update(error=error)
    events.append_trail(r, event.source, event.event_id, entry)
    label = str(status) if error is None else str(status or "error")
    counter = metrics.ZEEG_REQUESTS if method == "DELETE" else metrics.VERIFY_REQUESTS
    metrics.incr(r, counter, status=label)


def recorded(r: redis.Redis, event: Event, obj: str, record_id: str) -> Outcome | None:
    """The outcome an earlier run of this event recorded for one record, if any."""
    earlier = r.hget(keys.event(event.source, event.event_id), record_field(obj, record_id))
    return unpack(obj, record_id, str(earlier)) if earlier else None


def recorded_ids(r: redis.Redis, event: Event, obj: str) -> list[str]:
    """The record ids of obj whose outcome this event recorded, in the order recorded."""
    prefix = record_field(obj, "")
    names: list[str] = r.hkeys(keys.event(event.source, event.event_id))  # type: ignore[assignment]
    # `o:<object>:` (no record id) holds the target's not_mapped, not a record.
    return [name[len(prefix) :] for name in names if name.startswith(prefix) and name != prefix]


def note_created(r: redis.Redis, event: Event, obj: str, record_id: str) -> None:
    """Keep the id of the record assert: created for obj, so a retry knows it as ours."""
    r.hset(keys.event(event.source, event.event_id), f"{events.CREATED}{obj}", record_id)


def created(r: redis.Redis, event: Event, obj: str) -> str | None:
    """The id of the record assert: created for obj in an earlier run, if any."""
    value = r.hget(keys.event(event.source, event.event_id), f"{events.CREATED}{obj}")
    return None if value is None else str(value)


def record(
    r: redis.Redis,
    event: Event,
    outcome: Outcome,
    now: float,
    *,
    per_record: bool,
    audit_outlives_marker: bool = False,
) -> Outcome | None:
    """Record an outcome: on the event, the audit stream, the trail and the metrics, at once.

    The first run to record it wins: another run of the same event (RQ declared it abandoned
    while it still ran, or a re-run after a crash) gets back the outcome already recorded.
    per_record keeps it under its record id; a not_mapped without it is the target's outcome
    when no record was found, kept once per target. Anything else (a deletion that did not
    verify) is written each time. None when this outcome was written.
    audit_outlives_marker: the audit entry is kept at least as long as the record's erased
    marker would be, so a deletion's entry takes its place (store.audit.deletion_recorded).
    """
    key = keys.event(event.source, event.event_id)
    field = _kept_as(outcome, per_record)
    with r.pipeline() as pipe:
        while True:
            try:
                # The audit head is watched too: a chain link written by another worker
                # since we read it makes EXEC fail, and we link again to the new head.
                pipe.watch(keys.AUDIT_HEAD, key)  # type: ignore[no-untyped-call]
                earlier = pipe.hget(key, field) if field else None
                if earlier:
                    return unpack(outcome.object, outcome.record_id or "", str(earlier))
                prev = audit.head(pipe)
                pipe.multi()
                if field:
                    pipe.hset(key, field, pack(outcome))
                if audit_outlives_marker:
                    _drop_marker(pipe, outcome)
                _write_outcome(pipe, event, outcome, now, prev)
                return None
            except WatchError:
                continue


def _kept_as(outcome: Outcome, per_record: bool) -> str | None:
    """The event field that keeps this outcome (the first run's wins), or None if not kept."""
    if per_record:
        return record_field(outcome.object, outcome.record_id or "")
    return record_field(outcome.object, "") if outcome.outcome == NOT_MAPPED else None


def _drop_marker(pipe: Pipeline, outcome: Outcome) -> None:
    """A deletion's audit entry says what its erased marker said: the marker goes."""
    if outcome.outcome in (DELETED, ALREADY_DELETED) and outcome.record_id:
        pipe.delete(keys.erased(outcome.object, outcome.record_id))


def _write_outcome(pipe: Pipeline, event: Event, outcome: Outcome, now: float, prev: str) -> None:
    """The rest of the outcome's transaction: audit entry, its index, trail, counter, EXEC."""
    audit.append(pipe, event, outcome, now, prev)
    index.add_audit(pipe, event, outcome)
    entry = {"at": now, "what": "outcome", **outcome.to_dict()}
    events.append_trail(pipe, event.source, event.event_id, entry)
    if outcome.outcome != FAILED:  # counted once per event, as it fails (delivery.policy)
        metrics.incr(pipe, "zeeg_consumer_outcomes_total", outcome=outcome.outcome)
    chart.count(pipe, outcome.outcome, now)
    pipe.execute()
