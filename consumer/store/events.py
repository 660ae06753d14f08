"""Stored events: the status hash, the trail of what happened, and the event log stream."""

from __future__ import annotations

import json
from typing import Any

import redis
from redis.client import Pipeline

from consumer.models import Event, Outcome, ParsedEvent
from consumer.store import keys

DAY = 86400


def event_fields(event: ParsedEvent, received_at: float) -> dict[Any, Any]:
    """The fields kept of an event: no body, no names, no e-mail addresses."""
    return {
        "source": event.source,
        "event_id": event.event_id,
        "event_type": event.event_type,
        "external_id": event.external_id,
        "occurred_at": "" if event.occurred_at is None else repr(event.occurred_at),
        "received_at": repr(received_at),
        "targets": ",".join(event.targets),
        "hints": event.hints_json(),
    }


def write_new(
    pipe: Pipeline, event: ParsedEvent, job_id: str, now: float, retention_days: float
) -> None:
    """Queue the writes that store a newly accepted event (inside the intake transaction)."""
    fields = event_fields(event, now)
    ttl = int(retention_days * DAY)
    key = keys.event(event.source, event.event_id)
    pipe.delete(key, keys.trail(event.source, event.event_id))
    pipe.hset(key, mapping={**fields, "job_id": job_id, "status": "queued", "attempts": "0"})
    pipe.expire(key, ttl)
    append_trail(pipe, event.source, event.event_id, {"at": now, "what": "received"}, ttl)
    pipe.zadd(keys.PENDING, {pending_member(event.source, event.event_id): now})
    pipe.xadd(keys.EVENT_LOG, fields, minid=_min_id(now, retention_days), approximate=True)


def _min_id(now: float, retention_days: float) -> str:
    return str(int((now - retention_days * DAY) * 1000))


def append_trail(
    r: redis.Redis | Pipeline, source: str, event_id: str, entry: dict[str, Any], ttl: int = 0
) -> None:
    """Add one entry to an event's trail."""
    key = keys.trail(source, event_id)
    r.rpush(key, json.dumps(entry, separators=(",", ":")))
    if ttl:
        r.expire(key, ttl)
    else:
        # Keep the trail as long as its event hash.
        r.expire(key, 40 * DAY, gt=True)


def load(r: redis.Redis, source: str, event_id: str) -> Event | None:
    """The stored event, or None if unknown or expired."""
    data: dict[str, str] = r.hgetall(keys.event(source, event_id))  # type: ignore[assignment]
    return Event.from_hash(data) if data.get("external_id") else None


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
    """Set status fields of an event."""
    r.hset(keys.event(source, event_id), mapping={k: str(v) for k, v in fields.items()})


def target_outcomes(r: redis.Redis, source: str, event_id: str) -> dict[str, list[Outcome]]:
    """Terminal outcomes recorded so far, per target object."""
    data: dict[str, str] = r.hgetall(keys.event(source, event_id))  # type: ignore[assignment]
    done: dict[str, list[Outcome]] = {}
    for field, value in data.items():
        if field.startswith("t:"):
            done[field[2:]] = [Outcome(**o) for o in json.loads(value)]
    return done


def record_target(
    r: redis.Redis | Pipeline, source: str, event_id: str, obj: str, outcomes: list[Outcome]
) -> None:
    """Mark one target object as done with its outcomes."""
    value = json.dumps([o.__dict__ for o in outcomes], separators=(",", ":"))
    r.hset(keys.event(source, event_id), f"t:{obj}", value)


def pending_member(source: str, event_id: str) -> str:
    """The member naming an event in the pending set (event ids may hold ':', so last)."""
    return f"{source}:{event_id}"


def mark_running(r: redis.Redis, source: str, event_id: str, job_id: str, now: float) -> None:
    """A job starts working on the event: status running and a `run` entry on the trail."""
    update(r, source, event_id, status="running", job_id=job_id)
    append_trail(r, source, event_id, {"at": now, "what": "run", "job_id": job_id})


def mark_done(r: redis.Redis, source: str, event_id: str, now: float) -> None:
    """Every target has its terminal outcome: the event leaves the pending set."""
    with r.pipeline() as pipe:
        update(pipe, source, event_id, status="done", completed_at=repr(now))
        append_trail(pipe, source, event_id, {"at": now, "what": "done"})
        pipe.zrem(keys.PENDING, pending_member(source, event_id))
        pipe.execute()


def mark_failed(
    r: redis.Redis, source: str, event_id: str, now: float, reason: str, status: int | None
) -> None:
    """The job failed (requeueable); the event stays pending, so it turns at risk after the SLA."""
    with r.pipeline() as pipe:
        update(pipe, source, event_id, status="failed", last_error=reason)
        entry = {"at": now, "what": "failed", "status": status, "error": reason}
        append_trail(pipe, source, event_id, entry)
        pipe.execute()


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
