"""The audit stream: one entry per target record with its outcome, hash-chained, trimmed by age.

Each entry written since the chain exists carries `prev` (the chain head before it) and
`hash` (consumer.audit_chain.link); the head is zc:audit:head, moved in the same
transaction as the XADD. Entries from before the upgrade have neither.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import redis
from redis.client import Pipeline

from consumer import audit_chain
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


def head(r: redis.Redis | Pipeline) -> str:
    """The hash of the newest chained entry (the genesis value before the first one)."""
    value = r.get(keys.AUDIT_HEAD)
    return audit_chain.GENESIS if value is None else str(value)


def append(pipe: Pipeline, event: Event, outcome: Outcome, now: float, prev: str) -> None:
    """Queue one outcome's entry, linked to prev, and move the head to it (in MULTI).

    The caller WATCHes the head and read prev from it, so concurrent workers form one
    chain: a transaction whose head moved underneath it fails and is retried. No trimming
    here: an approximate trim would drop entries without keeping the anchor (retention.trim).
    """
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
        "prev": prev,
    }
    if outcome.verified is not None:
        # Only on checked deletions: older entries keep their canonical form and hash.
        entry["verified"] = "true" if outcome.verified else "false"
    entry["hash"] = audit_chain.link(prev, audit_chain.canonical(entry))
    pipe.xadd(keys.AUDIT, entry)  # type: ignore[arg-type]
    pipe.set(keys.AUDIT_HEAD, entry["hash"])


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


# Whether a record's deletion is recorded: its erased marker (written as Zeeg answers the
# DELETE, before the outcome), else a deleted or already_deleted entry among the record's
# 20 newest audit entries (since 0.4.0 the marker goes once that entry is written: the
# audit keeps it for audit_retention_days). KEYS: marker, record's audit index, stream.
_ERASED = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 1 end
for _, id in ipairs(redis.call('ZREVRANGE', KEYS[2], 0, 19)) do
  local found = redis.call('XRANGE', KEYS[3], id, id)
  local f = found[1] and found[1][2] or {}
  for i = 1, #f - 1, 2 do
    if f[i] == 'outcome' and (f[i + 1] == 'deleted' or f[i + 1] == 'already_deleted') then
      return 1
    end
  end
end
return 0
"""


def deletion_recorded(r: redis.Redis, obj: str, record_id: str) -> bool:
    """Whether the record's deletion is recorded, by its marker or its audit entries."""
    index_key = keys.audit_by_record(obj, record_id.lower())
    return bool(r.eval(_ERASED, 3, keys.erased(obj, record_id), index_key, keys.AUDIT))
