"""Trimming the event log and the audit stream by age, with their index members (writes
also trim the event log, approximately; store.index tolerates the members that leaves)."""

from __future__ import annotations

import logging

import redis

from consumer.store import archive, index, keys

DAY = 86400
log = logging.getLogger(__name__)


def cutoff_id(now: float, days: float) -> str:
    """The smallest stream id kept when entries older than days are dropped."""
    return str(int((now - days * DAY) * 1000))


def trim(
    r: redis.Redis,
    now: float,
    event_log_days: float,
    audit_days: float,
    *,
    archiving: bool = False,
) -> dict[str, int]:
    """Drop every entry older than its retention, exactly, with its index members; returns
    how many went per stream.

    archiving: audit entries go only once they are in an archive (store.archive), so an
    archive that could not be written keeps them. Also drops pending-index members whose
    event expired (see drop_expired_pending).
    """
    audit_min = cutoff_id(now, audit_days)
    if archiving:
        audit_min = str(min(int(audit_min), archive.archived_until_ms(r)))
    return {
        "event_log": trim_stream(r, keys.EVENT_LOG, cutoff_id(now, event_log_days)),
        "audit": trim_audit(r, audit_min),
        "pending": drop_expired_pending(r, now, event_log_days),
    }


def trim_audit(r: redis.Redis, min_id: str) -> int:
    """Drop audit entries older than min_id (ms), keeping the last dropped hash as anchor."""
    return trim_stream(r, keys.AUDIT, min_id)


# KEYS: the stream, the anchor. ARGV: the MINID, the hash of the last entry below it ("" for
# none). The anchor moves only if this trim removed something: then it removed that entry
# (trims remove a prefix), so a concurrent trim that got further cannot be set back.
_TRIM = """
local n = redis.call('XTRIM', KEYS[1], 'MINID', ARGV[1])
if n > 0 and ARGV[2] ~= '' then redis.call('SET', KEYS[2], ARGV[2]) end
return n
"""


def trim_stream(r: redis.Redis, stream: str, min_id: str, batch: int = 1000) -> int:
    """Drop a stream's entries older than min_id (ms) batch by batch, each batch in one MULTI
    with its index members and, for the audit, the anchor: what remains always verifies.

    New entries get ids after min_id, so the entries below it cannot change meanwhile.
    """
    removed, last_ms = 0, int(min_id) - 1
    while last_ms >= 0:
        rows: list[tuple[str, dict[str, str]]] = r.xrange(  # type: ignore[assignment]
            stream, "-", str(last_ms), count=batch
        )
        if not rows:
            break
        with r.pipeline() as pipe:
            if stream == keys.AUDIT:
                index.drop_audit(pipe, index.audit_members(rows))
            else:
                index.drop_events(pipe, index.event_members(rows))
            anchor = rows[-1][1].get("hash", "") if stream == keys.AUDIT else ""
            pipe.eval(_TRIM, 2, stream, keys.AUDIT_ANCHOR, _after(rows[-1][0]), anchor)
            removed += int(pipe.execute()[-1])
        if len(rows) < batch:
            break
    return removed


def _after(entry_id: str) -> str:
    """The smallest stream id after entry_id."""
    ms, seq = entry_id.split("-")
    return f"{ms}-{int(seq) + 1}"


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
    r: redis.Redis,
    now: float,
    event_log_days: float,
    audit_days: float,
    every: int = 3600,
    *,
    archiving: bool = False,
) -> dict[str, int] | None:
    """Trim (see trim) unless some worker already did within `every` seconds; None if skipped."""
    if not r.set(keys.TRIMMED, repr(now), nx=True, ex=every):
        return None
    return trim(r, now, event_log_days, audit_days, archiving=archiving)
