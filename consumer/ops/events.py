"""Finding stored events (by source, external id, event id, status, outcome, time) and
showing one event's whole trail.

A search by external id reads its index (store.index: a few milliseconds whatever the log
holds); any other search scans the event log stream within the time range, newest first, its
cost growing with the number of events received in that range (see the README for figures).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import redis

from consumer.errors import InvalidIdentifier, NotFound, OperatorError
from consumer.models import (
    FAILED,
    OUTCOMES,
    EventStatus,
    check_event_id,
    check_external_id,
    check_source_name,
    quoted,
)
from consumer.ops import iso, parse_time, shown_int
from consumer.store import events, index, keys, search

S = EventStatus
# The statuses operators filter by, in the order error messages name them.
STATUSES = (S.QUEUED, S.RUNNING, S.RETRYING, S.AUTH_PAUSED, S.RATE_LIMITED, S.DONE, S.FAILED)
# Events a replay picks up by default: every one not done and not in a worker's hands.
UNFINISHED = (S.QUEUED, S.RETRYING, S.AUTH_PAUSED, S.RATE_LIMITED, S.FAILED, S.EXPIRED)
BATCH = 200
# The filter names CLI options and admin queries/bodies share.
FILTER_FIELDS = ("source", "external_id", "event_id", "status", "outcome", "since", "until")


@dataclass(frozen=True)
class Filters:
    """Which events to select; empty fields match everything."""

    source: str | None = None
    external_id: str | None = None
    event_ids: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    outcome: str | None = None
    since: float | None = None
    until: float | None = None

    def matches_log(self, fields: Mapping[str, str]) -> bool:
        """Whether an event log entry passes the filters the log itself can answer."""
        if self.source and fields.get("source") != self.source:
            return False
        if self.external_id and fields.get("external_id") != self.external_id:
            return False
        return not self.event_ids or fields.get("event_id") in self.event_ids

    def matches_state(self, data: Mapping[str, str]) -> bool:
        """Whether an event's stored state passes the status and outcome filters."""
        status = data.get("status") or EventStatus.EXPIRED
        if self.statuses and status not in self.statuses:
            return False
        if not self.outcome:
            return True
        # A failed job records no per-target outcome: outcome "failed" means the event failed.
        return self.outcome in _outcomes(data) or (self.outcome == FAILED == status)


def _outcomes(data: Mapping[str, str]) -> set[str]:
    return {
        o
        for shown in events.shown_outcomes(data).values()
        if isinstance(shown, list)
        for o in shown
    }


def _split(value: Any) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    items = value if isinstance(value, list | tuple) else str(value).split(",")
    return tuple(str(i).strip() for i in items if str(i).strip())


def _ids(value: Any) -> tuple[str, ...]:
    """Event ids as given: a list, or one id (ids may hold commas, so no splitting)."""
    if value is None or value == "" or value == []:
        return ()
    return tuple(str(i) for i in value) if isinstance(value, list | tuple) else (str(value),)


def _statuses(value: Any) -> tuple[str, ...]:
    """Known statuses, with "unfinished" standing for every unfinished one."""
    statuses = _split(value)
    if "unfinished" in statuses:
        statuses = tuple(s for s in statuses if s != "unfinished") + UNFINISHED
    bad = [s for s in statuses if s not in (*STATUSES, EventStatus.EXPIRED)]
    if bad:
        raise OperatorError(
            f"unknown status {quoted(bad[0])}: use {', '.join(STATUSES)} or unfinished"
        )
    return statuses


def filters_from(data: Mapping[str, Any], now: float) -> Filters:
    """Validated filters from CLI options or an admin query/body (statuses may name groups)."""
    statuses = _statuses(data.get("status"))
    outcome = data.get("outcome") or None
    if outcome is not None and outcome not in OUTCOMES:
        raise OperatorError(f"unknown outcome {quoted(outcome)}: use {', '.join(OUTCOMES)}")
    try:
        external_id = data.get("external_id") or None
        ids = tuple(check_event_id(i) for i in _ids(data.get("event_id")))
        if external_id is not None:
            external_id = check_external_id(external_id)
    except InvalidIdentifier as e:
        raise OperatorError(str(e)) from e
    source = data.get("source") or None
    if source is not None and not isinstance(source, str):
        raise OperatorError("source must be a string")
    since, until = parse_time(data.get("since"), now), parse_time(data.get("until"), now)
    return Filters(source, external_id, ids, statuses, outcome, since, until)


def matching(r: redis.Redis, f: Filters, *, newest_first: bool = False) -> Iterator[dict[str, str]]:
    """Each selected event once (its latest log entry merged with its stored state).

    By external id, the index answers once it is complete (store.index); before that, and
    for every other filter, the event log is scanned.
    """
    if f.external_id and index.is_ready(r, "events"):
        yield from _indexed(r, f, f.external_id, newest_first)
        return
    seen: set[tuple[str, str]] = set()
    chunk: list[dict[str, str]] = []
    for _, fields in search.log_entries(r, f.since, f.until, newest_first=newest_first):
        pair = (fields.get("source", ""), fields.get("event_id", ""))
        if pair in seen or not f.matches_log(fields):
            continue
        seen.add(pair)
        chunk.append(fields)
        if len(chunk) >= BATCH:
            yield from _with_state(r, f, chunk)
            chunk = []
    yield from _with_state(r, f, chunk)


def _indexed(
    r: redis.Redis, f: Filters, external_id: str, newest_first: bool
) -> Iterator[dict[str, str]]:
    """The events the index holds for external_id, in the same shape as a log scan."""
    sources = [f.source] if f.source else search.index_names(r, keys.INDEX_SOURCES)
    found = search.indexed_events(r, [(s, external_id) for s in sources], f.since, f.until)
    if not newest_first:
        found.reverse()
    for start in range(0, len(found), BATCH):
        chunk = [
            {"source": s, "event_id": e, "external_id": external_id, "received_at": repr(at)}
            for s, e, at in found[start : start + BATCH]
        ]
        # An event whose hash expired before its index member was trimmed shows as expired,
        # as a log entry outliving its hash does in a scan.
        yield from _with_state(r, f, [c for c in chunk if f.matches_log(c)])


def _with_state(r: redis.Redis, f: Filters, chunk: list[dict[str, str]]) -> list[dict[str, str]]:
    stored = search.event_hashes(r, [(e.get("source", ""), e.get("event_id", "")) for e in chunk])
    merged = [{**fields, **state} for fields, state in zip(chunk, stored, strict=True)]
    return [m for m in merged if f.matches_state(m)]


def summary(data: Mapping[str, str]) -> dict[str, Any]:
    """One event as operators see it: ids, status, attempts, times, outcomes per target."""
    # Stored values are shown as stored when they cannot be converted (iso, shown_int).
    return {
        "source": data.get("source"),
        "event_id": data.get("event_id"),
        "event_type": data.get("event_type"),
        "external_id": data.get("external_id"),
        "status": data.get("status") or EventStatus.EXPIRED,
        "attempts": shown_int(data.get("attempts")) or 0,
        "job_id": data.get("job_id") or None,
        "received_at": iso(data.get("received_at") or None),
        "occurred_at": iso(data.get("occurred_at")),
        "completed_at": iso(data.get("completed_at")),
        "last_error": data.get("last_error") or None,
        "replayed": data.get("replayed") == "1",
        "outcomes": events.shown_outcomes(data),
    }


def search_events(r: redis.Redis, f: Filters, limit: int = 100) -> list[dict[str, Any]]:
    """Up to limit matching events, newest first."""
    if limit < 1:
        raise OperatorError(f"limit must be 1 or more, not {limit}")
    found = []
    for data in matching(r, f, newest_first=True):
        found.append(summary(data))
        if len(found) >= limit:
            break
    return found


def _check_names(source: str, event_id: str) -> None:
    """A source name and an event id of the shapes intake stores, before they form a key."""
    try:
        check_source_name(source)
        check_event_id(event_id)
    except InvalidIdentifier as e:
        raise OperatorError(str(e)) from e


def show_event(r: redis.Redis, source: str, event_id: str) -> dict[str, Any]:
    """One event with its whole trail (received, attempts, outcomes, replays, requeues)."""
    _check_names(source, event_id)
    data = events.load_hash(r, source, event_id)
    if not data:
        raise NotFound(f"no stored event {source}/{event_id} (unknown, or past retention)")
    trail = [{**e, "at": iso(e.get("at"))} for e in events.trail(r, source, event_id)]
    return {**summary(data), "trail": trail}
