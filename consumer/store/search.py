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


def indexed_events(
    r: redis.Redis, pairs: list[tuple[str, str]], since: float | None, until: float | None
) -> list[tuple[str, str, float]]:
    """(source, event_id, received_at) of each (source, external id)'s indexed events within
    [since, until], newest first, in one round trip."""
    low = "-inf" if since is None else repr(since)
    high = "+inf" if until is None else repr(until)
    with r.pipeline(transaction=False) as pipe:
        for source, external_id in pairs:
            pipe.zrevrangebyscore(keys.event_index(source, external_id), high, low, withscores=True)
        found: list[list[tuple[str, float]]] = pipe.execute()
    rows = [
        (s, m, score) for (s, _), members in zip(pairs, found, strict=True) for m, score in members
    ]
    return sorted(rows, key=lambda row: row[2], reverse=True)


def indexed_audit(
    r: redis.Redis, index_keys: list[str], since: float | None, until: float | None, limit: int
) -> list[tuple[str, dict[str, str]]]:
    """The audit entries the index keys name within [since, until], newest first, at most
    limit; members whose entry was trimmed meanwhile are skipped."""
    low = "-inf" if since is None else str(int(since * 1000))
    high = "+inf" if until is None else str(int(until * 1000))
    with r.pipeline(transaction=False) as pipe:
        for key in index_keys:
            pipe.zrevrangebyscore(key, high, low, start=0, num=limit)
        ids = sorted({i for found in pipe.execute() for i in found}, key=id_order, reverse=True)
    with r.pipeline(transaction=False) as pipe:
        for entry_id in ids[:limit]:
            pipe.xrange(keys.AUDIT, entry_id, entry_id)
        return [rows[0] for rows in pipe.execute() if rows]


def id_order(entry_id: str) -> tuple[int, int]:
    """A stream entry id as a sortable (ms, sequence) pair."""
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def index_names(r: redis.Redis, key: str) -> list[str]:
    """The sources (keys.INDEX_SOURCES) or objects (keys.INDEX_OBJECTS) the indexes name."""
    names: set[str] = r.smembers(key)  # type: ignore[assignment]
    return sorted(names)
