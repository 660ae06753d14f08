"""Reading the event log stream and event hashes in bulk (operator search and replay)."""

from __future__ import annotations

from collections.abc import Iterator

import redis

from consumer.store import keys

LogEntry = tuple[str, dict[str, str]]


def _ms(ts: float) -> str:
    return str(int(ts * 1000))


def log_entries(
    r: redis.Redis,
    since: float | None = None,
    until: float | None = None,
    *,
    newest_first: bool = False,
    batch: int = 500,
) -> Iterator[LogEntry]:
    """Event log entries received within [since, until] (epoch seconds), in time order."""
    low = "-" if since is None else _ms(since)
    high = "+" if until is None else _ms(until)
    while True:
        if newest_first:
            rows: list[LogEntry] = r.xrevrange(keys.EVENT_LOG, high, low, count=batch)  # type: ignore[assignment]
        else:
            rows = r.xrange(keys.EVENT_LOG, low, high, count=batch)  # type: ignore[assignment]
        yield from rows
        if len(rows) < batch:
            return
        if newest_first:
            high = "(" + rows[-1][0]
        else:
            low = "(" + rows[-1][0]


def event_hashes(r: redis.Redis, pairs: list[tuple[str, str]]) -> list[dict[str, str]]:
    """The stored hash of each (source, event_id), {} where it expired, in one round trip."""
    with r.pipeline(transaction=False) as pipe:
        for source, event_id in pairs:
            pipe.hgetall(keys.event(source, event_id))
        found: list[dict[str, str]] = pipe.execute()
    return found


def statuses(r: redis.Redis, pairs: list[tuple[str, str]]) -> list[str | None]:
    """The status field of each (source, event_id), None where the event expired."""
    with r.pipeline(transaction=False) as pipe:
        for source, event_id in pairs:
            pipe.hget(keys.event(source, event_id), "status")
        found: list[str | None] = pipe.execute()
    return found
