"""Trimming the event log and the audit stream by age (writes also trim, approximately)."""

from __future__ import annotations

import redis

from consumer.store import keys

DAY = 86400


def cutoff_id(now: float, days: float) -> str:
    """The smallest stream id kept when entries older than days are dropped."""
    return str(int((now - days * DAY) * 1000))


def trim(r: redis.Redis, now: float, event_log_days: float, audit_days: float) -> dict[str, int]:
    """Drop every entry older than its retention, exactly; returns how many went per stream."""
    removed = {
        "event_log": int(
            r.xtrim(keys.EVENT_LOG, minid=cutoff_id(now, event_log_days), approximate=False)
        ),
        "audit": int(r.xtrim(keys.AUDIT, minid=cutoff_id(now, audit_days), approximate=False)),
    }
    return removed
