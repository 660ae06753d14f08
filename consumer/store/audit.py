"""The audit stream: one entry per target record with its outcome, trimmed by age."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import redis
from redis.client import Pipeline

from consumer.models import Event, Outcome
from consumer.store import keys

FIELDS = (
    "event_id",
    "source",
    "external_id",
    "object",
    "record_id",
    "outcome",
    "http_status",
    "occurred_at",
    "completed_at",
)


def append(
    r: redis.Redis | Pipeline, event: Event, outcome: Outcome, now: float, retention_days: float
) -> None:
    """Record one outcome for one target record."""
    entry = {
        "event_id": event.event_id,
        "source": event.source,
        "external_id": event.external_id,
        "object": outcome.object,
        "record_id": outcome.record_id or "",
        "outcome": outcome.outcome,
        "http_status": "" if outcome.http_status is None else str(outcome.http_status),
        "occurred_at": "" if event.occurred_at is None else repr(event.occurred_at),
        "completed_at": repr(now),
    }
    min_id = str(int((now - retention_days * 86400) * 1000))
    r.xadd(keys.AUDIT, entry, minid=min_id, approximate=True)  # type: ignore[arg-type]


def entries(
    r: redis.Redis, since: float | None = None, until: float | None = None, batch: int = 1000
) -> Iterator[dict[str, Any]]:
    """Audit entries in time order within [since, until] (epoch seconds)."""
    start = "-" if since is None else str(int(since * 1000))
    end = "+" if until is None else str(int(until * 1000))
    while True:
        rows: list[tuple[str, dict[str, str]]] = r.xrange(  # type: ignore[assignment]
            keys.AUDIT, start, end, count=batch
        )
        for entry_id, fields in rows:
            yield {"id": entry_id, **fields}
        if len(rows) < batch:
            return
        start = "(" + str(rows[-1][0])
