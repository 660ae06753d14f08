"""The event record: its hash, its trail, its place in the pending index, and every move of
its status (the transitions models.EventStatus draws). No other module writes them.

Hash fields beside the stored event: `status`, `job_id`, `attempts`, `last_error`,
`completed_at`, `replayed`, `replay_reason`, and `t:<object>` a target's outcomes once it is
done. store.outcomes writes the per-record fields beside them as the erasure goes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import redis
from redis.client import Pipeline

from consumer.models import Event, EventStatus, Outcome, ParsedEvent
from consumer.store import keys, metrics

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
TARGET, RECORD, CREATED = "t:", "o:", "a:"  # prefixes of the per-target and per-record fields


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
    pipe.delete(key, keys.trail(event.source, event.event_id))
    pipe.hset(key, mapping={**fields, **_queued(job_id)})
    pipe.expire(key, ttl)
    append_trail(pipe, event.source, event.event_id, {"at": now, "what": "received"}, ttl)
    pipe.zadd(keys.PENDING, {pending_member(event.source, event.event_id): now})
    pipe.xadd(keys.EVENT_LOG, fields, minid=_min_id(now, retention_days), approximate=True)


def _queued(job_id: str) -> dict[Any, Any]:
    """The state of an event waiting for its job: QUEUED, no attempt spent yet."""
    return {"job_id": job_id, "status": EventStatus.QUEUED, "attempts": "0"}


def _min_id(now: float, retention_days: float) -> str:
    return str(int((now - retention_days * DAY) * 1000))


def append_trail(
    r: redis.Redis | Pipeline, source: str, event_id: str, entry: dict[str, Any], ttl: int = 0
) -> None:
    """Add one entry to an event's trail."""
    key = keys.trail(source, event_id)
    # On a plain client, one round trip for both commands (a caller's pipe batches anyway).
    pipe = r if isinstance(r, Pipeline) else r.pipeline(transaction=False)
    pipe.rpush(key, json.dumps(entry, separators=(",", ":")))
    if ttl:
        pipe.expire(key, ttl)
    else:
        # Keep the trail as long as its event hash: the TTL both got when the event was
        # written; only a trail that has none (created by this push) gets one.
        pipe.expire(key, 40 * DAY, nx=True)
    if pipe is not r:
        pipe.execute()


def note(r: redis.Redis, source: str, event_id: str, what: str, now: float, **fields: Any) -> None:
    """An operator's action on the trail (a manual erasure, a resume): what, who, why."""
    append_trail(r, source, event_id, {"at": now, "what": what, **fields})


def load(r: redis.Redis, source: str, event_id: str) -> Event | None:
    """The stored event, or None if unknown or expired."""
    data = load_hash(r, source, event_id)
    return Event.from_hash(data) if data.get("external_id") else None


def load_hash(r: redis.Redis, source: str, event_id: str) -> dict[str, str]:
    """The stored hash of an event as it is, {} if unknown or expired."""
    data: dict[str, str] = r.hgetall(keys.event(source, event_id))  # type: ignore[assignment]
    return data


def exists(r: redis.Redis, source: str, event_id: str) -> bool:
    """Whether the event is still stored (not past retention)."""
    return bool(r.exists(keys.event(source, event_id)))


def trail(r: redis.Redis, source: str, event_id: str) -> list[dict[str, Any]]:
    """An event's history, oldest first."""
    entries: list[str] = r.lrange(keys.trail(source, event_id), 0, -1)  # type: ignore[assignment]
    return [_trail_entry(e) for e in entries]


def _trail_entry(text: str) -> dict[str, Any]:
    """One trail entry; one that is not a JSON object (a hand edit) is kept raw, not fatal."""
    try:
        entry = json.loads(text)
    except ValueError:
        entry = None
    return entry if isinstance(entry, dict) else {"what": "unreadable", "raw": text}


def update(r: redis.Redis | Pipeline, source: str, event_id: str, **fields: str | int) -> None:
    """Set fields of an event's state (the transitions below are the callers; tests too)."""
    r.hset(keys.event(source, event_id), mapping={k: str(v) for k, v in fields.items()})


def _targets_done(data: Mapping[str, str]) -> Iterator[tuple[str, str]]:
    """(object, stored outcomes) of each target done, in the order they were recorded."""
    return ((k[len(TARGET) :], v) for k, v in data.items() if k.startswith(TARGET))


def shown_outcomes(data: Mapping[str, str]) -> dict[str, list[str] | str]:
    """Per target object its outcome names, or the stored text itself if it is unreadable."""
    return {obj: _outcome_names(value) for obj, value in _targets_done(data)}


def _outcome_names(value: str) -> list[str] | str:
    try:
        return [str(o["outcome"]) for o in json.loads(value)]
    except (ValueError, TypeError, KeyError):
        return value


def target_outcomes(
    r: redis.Redis, source: str, event_id: str, data: dict[str, str] | None = None
) -> dict[str, list[Outcome]]:
    """Terminal outcomes recorded so far, per target object (from data, the hash, if read)."""
    data = load_hash(r, source, event_id) if data is None else data
    return {obj: Outcome.many_from_json(value) for obj, value in _targets_done(data)}


def record_target(
    r: redis.Redis | Pipeline, source: str, event_id: str, obj: str, outcomes: list[Outcome]
) -> None:
    """Complete a target: mark the object done with its outcomes."""
    r.hset(keys.event(source, event_id), f"{TARGET}{obj}", Outcome.many_to_json(outcomes))


def pending_member(source: str, event_id: str) -> str:
    """The member naming an event in the pending set (event ids may hold ':', so last)."""
    return f"{source}:{event_id}"


def mark_running(r: redis.Redis, source: str, event_id: str, job_id: str, now: float) -> None:
    """Start: a job works on the event, status RUNNING and a `run` entry on the trail."""
    with r.pipeline(transaction=False) as pipe:
        update(pipe, source, event_id, status=EventStatus.RUNNING, job_id=job_id)
        append_trail(pipe, source, event_id, {"at": now, "what": "run", "job_id": job_id})
        pipe.execute()


def reschedule(
    r: redis.Redis, e: Event, status: EventStatus, job_id: str, delay: float, now: float, why: str
) -> None:
    """Put off: job_id runs the event after delay seconds (why: its /metrics label)."""
    with r.pipeline() as pipe:
        update(pipe, e.source, e.event_id, status=status, job_id=job_id)
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
        append_trail(pipe, source, event_id, {"at": now, "what": "done"})
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
    return [_text(v) for v in pipe.hmget(key, ["status", "job_id"])]


def _text(value: bytes | str | None) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


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
    pipe.hdel(key, *stale)
    fields: dict[Any, Any] = {k: data.get(k, "") for k in LOG_FIELDS}
    pipe.hset(key, mapping={**fields, **_queued(job_id), "replayed": "1", "replay_reason": reason})
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
    fields: dict[str, str | int] = {"status": EventStatus.QUEUED, "attempts": 0, "job_id": job_id}
    update(pipe, source, event_id, **fields, last_error="")
    entry = {"at": now, "what": "requeued", "by": by, "reason": reason}
    entry.update(job_id=job_id, previous_job_id=previous)
    append_trail(pipe, source, event_id, entry)


def attempts(r: redis.Redis, source: str, event_id: str) -> list[dict[str, Any]]:
    """The calls made for an event, oldest first: time, object, record, status or error."""
    return [e for e in trail(r, source, event_id) if e.get("what") == "attempt"]


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
