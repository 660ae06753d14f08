"""Compare what delivery looks like now with the open incidents, and say what to alert.

Each incident (delivery paused, events at SLA risk, a long 429 hold) opens and closes through
one atomic Redis step (consumer.store.alerts): the one evaluation that opens it alerts, the
one that closes it sends the recovery note, and every other evaluation, on any worker, sends
nothing. Jobs that failed for good are not an incident: a cursor hands each failure to one
evaluation, which sends one alert summing up all that it found.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import redis

from consumer.logs import iso
from consumer.queue import Queue, QueuedJob, fetch_many
from consumer.settings import Settings
from consumer.store import alerts as store
from consumer.store import events, pause

FIRING = "firing"
RESOLVED = "resolved"
# The kinds of alert (the kind label of zeeg_consumer_alerts_total).
PAUSED, SLA_RISK, RATE_LIMITED, FAILED = "paused", "sla_risk", "rate_limited", "failed"
TEST = "test"  # `zeeg-consumer alerts test`
# A failure alert names this many jobs and counts the rest (`zeeg-consumer failed` lists all).
NAMED_JOBS = 10


@dataclass(frozen=True)
class Alert:
    """One alert to send: what it is about, whether it fires or resolves, and its fields."""

    kind: str
    state: str
    text: str
    ts: float
    details: dict[str, Any] = field(default_factory=dict)


def evaluate(r: redis.Redis, queue: Queue, settings: Settings, now: float) -> list[Alert]:
    """The alerts this evaluation owns: incidents it opened or closed, and new failures."""
    found = [
        _paused(r, now),
        _sla_risk(r, settings, now),
        _rate_limited(r, settings, now),
        _failed(r, queue, now),
    ]
    return [a for a in found if a is not None]


def _transition(
    r: redis.Redis,
    kind: str,
    now: float,
    firing: dict[str, Any] | None,
    texts: tuple[Callable[[dict[str, Any]], str], Callable[[dict[str, Any]], str]],
) -> Alert | None:
    """Open the incident while firing is given, close it otherwise; an Alert if this did."""
    if firing is not None:
        if store.open_incident(r, kind, firing):
            return Alert(kind, FIRING, texts[0](firing), now, firing)
        return None
    was = store.close_incident(r, kind)
    if was is None:
        return None
    return Alert(kind, RESOLVED, texts[1](was), now, {**was, "lasted_seconds": now - was["at"]})


def _paused(r: redis.Redis, now: float) -> Alert | None:
    state = pause.state(r)
    firing = None
    if state is not None:
        cause = "auth" if state.by == pause.AUTO else "operator"
        firing = {"at": now, "cause": cause, "reason": state.reason, "by": state.by}
        firing["since"] = state.since

    def fired(d: dict[str, Any]) -> str:
        who = "after Zeeg refused the token" if d["cause"] == "auth" else f"by {d['by']}"
        return (
            f"zeeg-consumer: delivery PAUSED {who} since {iso(d['since'])}: {d['reason']}. "
            "Erasures wait until it is resumed."
        )

    def resolved(d: dict[str, Any]) -> str:
        return f"zeeg-consumer: delivery RESUMED (it was paused since {iso(d['since'])})."

    return _transition(r, PAUSED, now, firing, (fired, resolved))


def _sla_risk(r: redis.Redis, settings: Settings, now: float) -> Alert | None:
    hours = settings.delivery.sla_hours
    count = events.at_risk_count(r, now, hours)
    firing = {"at": now, "at_risk": count, "sla_hours": hours} if count > 0 else None

    def fired(d: dict[str, Any]) -> str:
        return (
            f"zeeg-consumer: {d['at_risk']} event(s) at SLA risk: not erased within "
            f"{d['sla_hours']:g} h of receipt (see `zeeg-consumer status`)."
        )

    def resolved(d: dict[str, Any]) -> str:
        return "zeeg-consumer: no event is at SLA risk any more."

    return _transition(r, SLA_RISK, now, firing, (fired, resolved))


def _rate_limited(r: redis.Redis, settings: Settings, now: float) -> Alert | None:
    """A 429 hold that lasts (from when it was first seen to its end) past hold_minutes."""
    held = pause.held_for(r, now)
    since = store.hold_seen_since(r, held > 0, now)
    limit = settings.alerts.hold_minutes * 60
    if since is not None and now - since + held <= limit:
        return None  # held, but not for long (yet): neither open nor close
    firing = None if since is None else {"at": now, "since": since, "until": now + held}

    def fired(d: dict[str, Any]) -> str:
        return (
            f"zeeg-consumer: Zeeg rate limit (429): calls held since {iso(d['since'])} "
            f"until at least {iso(d['until'])}, longer than {limit / 60:g} min."
        )

    def resolved(d: dict[str, Any]) -> str:
        return "zeeg-consumer: the Zeeg rate-limit hold is over; calls resumed."

    return _transition(r, RATE_LIMITED, now, firing, (fired, resolved))


def _failed(r: redis.Redis, queue: Queue, now: float) -> Alert | None:
    """One alert for every job that failed for good since the last evaluation (any worker)."""
    ids = store.new_failures(r)
    if not ids:
        return None
    found = {job.id: job for job in fetch_many(queue, ids[:NAMED_JOBS])}
    jobs = [_job_fields(job_id, found.get(job_id)) for job_id in ids[:NAMED_JOBS]]
    named = ", ".join(
        f"{j['job_id']} ({j['source']}/{j['event_id']})" if "source" in j else j["job_id"]
        for j in jobs
    )
    more = f" and {len(ids) - len(jobs)} more" if len(ids) > len(jobs) else ""
    text = (
        f"zeeg-consumer: {len(ids)} erasure job(s) failed for good: {named}{more}. "
        "See `zeeg-consumer failed`; requeue after the fix."
    )
    return Alert(FAILED, FIRING, text, now, {"count": len(ids), "jobs": jobs})


def _job_fields(job_id: str, job: QueuedJob | None) -> dict[str, str]:
    """A failed job's id and, while the job is stored, the event it was erasing."""
    if job is None or job.event is None:
        return {"job_id": job_id}
    return {"job_id": job_id, "source": job.event[0], "event_id": job.event[1]}
