"""Erasure outcomes per minute for the status page's chart: one small hash per minute.

Written in the outcome's own transaction (store.outcomes), so the chart counts exactly what
the audit stream holds; each hash expires on its own once it is older than the chart shows.
"""

from __future__ import annotations

import redis
from redis.client import Pipeline

from consumer.store import keys

MINUTE = 60
KEEP_HOURS = 24  # the longest span the page draws
# A minute's hash lives a little longer than the page can ask for, then expires on its own.
TTL_SECONDS = (KEEP_HOURS + 1) * 3600


def minute_of(ts: float) -> int:
    """The epoch minute a time falls in."""
    return int(ts // MINUTE)


def count(pipe: redis.Redis | Pipeline, outcome: str, now: float) -> None:
    """Count one recorded outcome in the minute of now (queued on the caller's pipeline)."""
    key = keys.chart_minute(minute_of(now))
    pipe.hincrby(key, outcome, 1)
    pipe.expire(key, TTL_SECONDS)


def series(r: redis.Redis, now: float, minutes: int) -> list[tuple[int, dict[str, int]]]:
    """(epoch minute, outcome -> count) for the last minutes up to now's, oldest first."""
    last = minute_of(now)
    wanted = list(range(last - minutes + 1, last + 1))
    pipe = r.pipeline(transaction=False)
    for minute in wanted:
        pipe.hgetall(keys.chart_minute(minute))
    found: list[dict[str, str]] = pipe.execute()
    return [(m, _counts(data)) for m, data in zip(wanted, found, strict=True)]


def _counts(data: dict[str, str]) -> dict[str, int]:
    """Stored counts as ints; a value no number can be read from counts as 0."""
    shown = {}
    for outcome, value in data.items():
        shown[outcome] = int(value) if value.isascii() and value.isdigit() else 0
    return shown
