"""The event record: its hash, its trail, its place in the pending index, and every move of
its status (the transitions models.EventStatus draws). No other module writes them.

Hash fields beside the stored event: `status`, `job_id`, `attempts`, `last_error`,
`completed_at`, `replayed`, `replay_reason`, and `t:<object>` a target's outcomes once it is
done (store.outcome_fields: their format). store.outcomes writes the per-record fields beside
them as the erasure goes. The stored event leaves out what its key says (`source`,
`event_id`) and what is empty (`occurred_at`, `hints`, `attempts` 0): load_hash puts them
back. Hashes written before 0.3.0 hold them all and read the same.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import redis
from redis.client import Pipeline

from consumer.models import Event, EventStatus, Outcome, ParsedEvent
from consumer.store import dedupe, keys, metrics, outcome_fields
from consumer.store.connection import as_text
from consumer.store.outcome_fields import CREATED, RECORD, TARGET
from consumer.store.outcome_fields import target_outcomes as _stored_outcomes
from consumer.store.trail import append_and_fold, append_trail, attempts, note, trail

__all__ = ["CREATED", "RECORD", "TARGET", "append_trail", "attempts", "note", "trail"]

DAY = 86400
# The fields kept of an event, in the order they are stored (the event log holds them too).
LOG_FIELDS = (
    "source",
    "event_id",
    "event_type",
    "external_id",
    "occurred_at",
    "received_at",
    "targets",
    "hints",
)
# Left out of the hash when they hold these (load_hash puts them back): the key names the
# first two, the others are the values of an event without them.
_IMPLIED = ("source", "event_id")
_DEFAULTS = {"occurred_at": "", "hints": "{}", "attempts": "0"}


def event_fields(event: ParsedEvent, received_at: float) -> dict[Any, Any]:
    """The fields kept of an event: no body, no names, no e-mail addresses."""
    occurred = "" if event.occurred_at is None else repr(event.occurred_at)
    values = (event.source, event.event_id, event.event_type, event.external_id, occurred)
    rest = (repr(received_at), ",".join(event.targets), event.hints_json())
    return dict(zip(LOG_FIELDS, values + rest, strict=True))


def write_new(
    pipe: Pipeline, event: ParsedEvent, job_id: str, now: float, retention_days: float
) -> None:
    """Accept: queue the writes that store a new event as QUEUED (in the intake transaction)."""
    fields = event_fields(event, now)
    ttl = int(retention_days * DAY)
    key = keys.event(event.source, event.event_id)
    # No trail yet: its first entry (the first run's) creates it; trail() reads `received`.
    pipe.delete(key, keys.trail(event.source, event.event_id))
    pipe.hset(key, mapping=_stored({**fields, **_queued(job_id)}))
    pipe.expire(key, ttl)
    pipe.zadd(keys.PENDING, {pending_member(event.source, event.event_id): now})
    pipe.xadd(keys.EVENT_LOG, fields, minid=_min_id(now, retention_days), approximate=True)


def _stored(fields: dict[Any, Any]) -> dict[Any, Any]:
    """The hash fields of fields: without those its key implies or that hold their default."""
    return {k: v for k, v in fields.items() if k not in _IMPLIED and _DEFAULTS.get(k) != v}


def _queued(job_id: str) -> dict[Any, Any]:
    """The state of an event waiting for its job: QUEUED, no attempt spent yet."""
    return {"job_id": job_id, "status": EventStatus.QUEUED, "attempts": "0"}


def _min_id(now: float, retention_days: float) -> str:
    return str(int((now - retention_days * DAY) * 1000))


def load(r: redis.Redis, source: str, event_id: str) -> Event | None:
    """The stored event, or None if unknown or expired."""
    data = load_hash(r, source, event_id)
    return Event.from_hash(data) if data.get("external_id") else None


def load_hash(r: redis.Redis, source: str, event_id: str) -> dict[str, str]:
    """The stored hash of an event with the fields it leaves out, {} if unknown or expired."""
    data: dict[str, str] = r.hgetall(keys.event(source, event_id))  # type: ignore[assignment]
    return complete(data, source, event_id)


def complete(data: dict[str, str], source: str, event_id: str) -> dict[str, str]:
    """A stored event hash with the fields it leaves out put back ({} stays {})."""
    if not data:
        return data
    return {"source": source, "event_id": event_id, **_DEFAULTS, **data}


def exists(r: redis.Redis, source: str, event_id: str) -> bool:
    """Whether the event is still stored (not past retention)."""
    return bool(r.exists(keys.event(source, event_id)))


def update(r: redis.Redis | Pipeline, source: str, event_id: str, **fields: str | int) -> None:
    """Set fields of an event's state (the transitions below are the callers; tests too)."""
    r.hset(keys.event(source, event_id), mapping={k: str(v) for k, v in fields.items()})


def _targets_done(data: Mapping[str, str]) -> Iterator[tuple[str, str]]:
    """(object, stored outcomes) of each target done, in the order they were recorded."""
    return ((k[len(TARGET) :], v) for k, v in data.items() if k.startswith(TARGET))


def shown_outcomes(data: Mapping[str, str]) -> dict[str, list[str] | str]:
    """Per target object its outcome names, or the stored text itself if it is unreadable."""
    return {obj: _outcome_names(obj, value, data) for obj, value in _targets_done(data)}


def _outcome_names(obj: str, value: str, data: Mapping[str, str]) -> list[str] | str:
    try:
        return [o.outcome for o in _stored_outcomes(obj, value, data)]
    except (ValueError, TypeError, KeyError):
        return value


def target_outcomes(
    r: redis.Redis, source: str, event_id: str, data: dict[str, str] | None = None
) -> dict[str, list[Outcome]]:
    """Terminal outcomes recorded so far, per target object (from data, the hash, if read)."""
    data = load_hash(r, source, event_id) if data is None else data
    return {obj: _stored_outcomes(obj, value, data) for obj, value in _targets_done(data)}


def record_target(
    r: redis.Redis | Pipeline, source: str, event_id: str, obj: str, outcomes: list[Outcome]
) -> None:
    """Complete a target: mark the object done with its outcomes (each one kept under its
    record's field is stored as a reference to it: store.outcome_fields)."""
    args = outcome_fields.target_args(obj, outcomes)
    r.eval(outcome_fields.TARGET_SCRIPT, 1, keys.event(source, event_id), *args)


def pending_member(source: str, event_id: str) -> str:
    """The member naming an event in the pending set (event ids may hold ':', so last)."""
    return f"{source}:{event_id}"


def mark_running(r: redis.Redis, source: str, event_id: str, job_id: str, now: float) -> None:
    """Start: a job works on the event, status RUNNING and a `run` entry on the trail."""
    with r.pipeline(transaction=False) as pipe:
        dedupe.set_job(pipe, keys.event(source, event_id), job_id, status=EventStatus.RUNNING)
        append_trail(pipe, source, event_id, {"at": now, "what": "run", "job_id": job_id})
        pipe.execute()


def reschedule(
    r: redis.Redis, e: Event, status: EventStatus, job_id: str, delay: float, now: float, why: str
) -> None:
    """Put off: job_id runs the event after delay seconds (why: its /metrics label)."""
    with r.pipeline() as pipe:
        dedupe.set_job(pipe, keys.event(e.source, e.event_id), job_id, status=status)
        entry = {"at": now, "what": status, "retry_in": round(delay, 3), "job_id": job_id}
        append_trail(pipe, e.source, e.event_id, entry)
        metrics.incr(pipe, metrics.RETRIES, why=why)
        pipe.execute()


def count_attempt(r: redis.Redis, e: Event, attempts: int, error: str) -> None:
    """A transient failure spent one attempt: the count and the error that spent it."""
    update(r, e.source, e.event_id, attempts=attempts, last_error=error)


def mark_done(
    r: redis.Redis, source: str, event_id: str, now: float, received_at: float | None = None
) -> None:
    """Done: every target has its terminal outcome, the event leaves the pending set."""
    with r.pipeline() as pipe:
        update(pipe, source, event_id, status=EventStatus.DONE, completed_at=repr(now))
        # No run appends any more: the trail is folded into one string (store.trail_fold).
        append_and_fold(pipe, source, event_id, {"at": now, "what": "done"})
        pipe.zrem(keys.PENDING, pending_member(source, event_id))
        metrics.ended(pipe, "done", now, received_at)
        pipe.execute()


def mark_failed(
    r: redis.Redis,
    source: str,
    event_id: str,
    now: float,
    reason: str,
    status: int | None,
    received_at: float | None = None,
) -> None:
    """Fail (requeueable); the event stays pending, so it turns at risk after the SLA."""
    with r.pipeline() as pipe:
        update(pipe, source, event_id, status=EventStatus.FAILED, last_error=reason)
        entry = {"at": now, "what": "failed", "status": status, "error": reason}
        append_trail(pipe, source, event_id, entry)
        metrics.ended(pipe, "failed", now, received_at)
        pipe.execute()


def watch_state(pipe: Pipeline, source: str, event_id: str, *also: str) -> list[str | None]:
    """WATCH the event (and the keys also names) and read its [status, job_id] meanwhile."""
    key = keys.event(source, event_id)
    pipe.watch(key, *also)  # type: ignore[no-untyped-call]
    return [as_text(v) for v in pipe.hmget(key, ["status", "job_id"])]


def reset_for_replay(
    pipe: Pipeline,
    data: Mapping[str, str],
    job_id: str,
    *,
    by: str,
    reason: str,
    now: float,
    ttl: int,
) -> None:
    """Replay: queue the writes (pipe is in MULTI) that run a stored event afresh as QUEUED.

    data is the event as selected, log fields and state: its hash may have expired before
    the log, so the log fields are written back and recorded outcomes cleared.
    """
    source, event_id = data["source"], data["event_id"]
    key = keys.event(source, event_id)
    stale = [k for k in data if k.startswith((TARGET, RECORD))] + ["completed_at", "last_error"]
    stale += list(_DEFAULTS)  # written again below unless they hold their default
    pipe.hdel(key, *stale)
    fields: dict[Any, Any] = {k: data.get(k, "") for k in LOG_FIELDS}
    # A hash written before 0.3.0 keeps the fields it holds (hset never removes one).
    fields = {**_stored({**fields, **_queued(job_id)}), "replayed": "1", "replay_reason": reason}
    del fields["job_id"]
    dedupe.set_job(pipe, key, job_id, **fields)
    pipe.expire(key, ttl)
    entry = {"at": now, "what": "replayed", "by": by, "reason": reason, "dedupe": "bypassed"}
    entry.update(job_id=job_id, previous_job_id=data.get("job_id"))
    append_trail(pipe, source, event_id, entry, ttl)
    # A replayed event is pending again. One still pending keeps its SLA clock (a replay does
    # not make a late erasure look on time); a done one re-enters with the replay's time.
    pipe.zadd(keys.PENDING, {pending_member(source, event_id): now}, nx=True)


def reset_for_requeue(
    pipe: Pipeline,
    source: str,
    event_id: str,
    job_id: str,
    *,
    previous: str,
    by: str,
    reason: str,
    now: float,
) -> None:
    """Requeue: queue the writes (pipe is in MULTI) that turn a failed event QUEUED again."""
    fields: dict[str, str | int] = {"status": EventStatus.QUEUED, "attempts": 0, "last_error": ""}
    dedupe.set_job(pipe, keys.event(source, event_id), job_id, **fields)
    entry = {"at": now, "what": "requeued", "by": by, "reason": reason}
    entry.update(job_id=job_id, previous_job_id=previous)
    append_trail(pipe, source, event_id, entry)


def pending_count(r: redis.Redis) -> int:
    """Events accepted and not yet done (queued, retrying, waiting, or failed)."""
    return int(r.zcard(keys.PENDING))


def at_risk_count(r: redis.Redis, now: float, sla_hours: float) -> int:
    """Events not done sla_hours after they were received."""
    return int(r.zcount(keys.PENDING, "-inf", now - sla_hours * 3600))


def at_risk(
    r: redis.Redis, now: float, sla_hours: float, limit: int = 100
) -> list[tuple[str, str, float]]:
    """The oldest events past the SLA as (source, event_id, received_at), oldest first."""
    cutoff = now - sla_hours * 3600
    found: list[tuple[str, float]] = r.zrangebyscore(  # type: ignore[assignment]
        keys.PENDING, "-inf", cutoff, start=0, num=limit, withscores=True
    )
    return [(*member.split(":", 1), score) for member, score in found]  # type: ignore[misc]
