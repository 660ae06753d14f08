"""Trimming the event log and the audit stream by age (writes also trim, approximately)."""

from __future__ import annotations

import logging

import redis

from consumer.store import keys

DAY = 86400
log = logging.getLogger(__name__)


def cutoff_id(now: float, days: float) -> str:
    """The smallest stream id kept when entries older than days are dropped."""
    return str(int((now - days * DAY) * 1000))


def trim(r: redis.Redis, now: float, event_log_days: float, audit_days: float) -> dict[str, int]:
    """Drop every entry older than its retention, exactly; returns how many went per stream.

    Also drops pending-index members whose event expired (see drop_expired_pending).
    """
    removed = {
        "event_log": int(
            r.xtrim(keys.EVENT_LOG, minid=cutoff_id(now, event_log_days), approximate=False)
        ),
        "audit": trim_audit(r, cutoff_id(now, audit_days)),
        "pending": drop_expired_pending(r, now, event_log_days),
    }
    return removed


def trim_audit(r: redis.Redis, min_id: str) -> int:
    """Drop audit entries older than min_id (ms), keeping the last dropped hash as anchor.

    One MULTI sets the anchor and trims, so what remains always verifies from the anchor.
    New entries get ids after min_id, so the last dropped entry cannot change meanwhile.
    """
    last: list[tuple[str, dict[str, str]]] = r.xrevrange(  # type: ignore[assignment]
        keys.AUDIT, f"({min_id}-0", "-", count=1
    )
    with r.pipeline() as pipe:
        if last and last[0][1].get("hash"):
            pipe.set(keys.AUDIT_ANCHOR, last[0][1]["hash"])
        pipe.xtrim(keys.AUDIT, minid=min_id, approximate=False)
        return int(pipe.execute()[-1])


def drop_expired_pending(r: redis.Redis, now: float, days: float, batch: int = 1000) -> int:
    """Remove pending events older than days whose stored event has expired.

    Nothing can finish or replay such an event any more, so without this it would count as
    at risk in `status` forever. Members whose event is still stored are kept.
    """
    cutoff, start, dropped = now - days * DAY, 0, 0
    while True:
        members: list[str] = r.zrangebyscore(  # type: ignore[assignment]
            keys.PENDING, "-inf", cutoff, start=start, num=batch
        )
        gone = [m for m, alive in zip(members, _stored(r, members), strict=True) if not alive]
        if gone:
            dropped += int(r.zrem(keys.PENDING, *gone))
        if len(members) < batch:
            break
        start += batch - len(gone)
    if dropped:
        log.warning("dropped %d pending events whose record expired unfinished", dropped)
    return dropped


def _stored(r: redis.Redis, members: list[str]) -> list[bool]:
    """Whether each pending member's event hash still exists."""
    with r.pipeline(transaction=False) as pipe:
        for member in members:
            source, event_id = member.split(":", 1)
            pipe.exists(keys.event(source, event_id))
        return [bool(n) for n in pipe.execute()]


def trim_if_due(
    r: redis.Redis, now: float, event_log_days: float, audit_days: float, every: int = 3600
) -> dict[str, int] | None:
    """Trim (see trim) unless some worker already did within `every` seconds; None if skipped."""
    if not r.set(keys.TRIMMED, repr(now), nx=True, ex=every):
        return None
    return trim(r, now, event_log_days, audit_days)
