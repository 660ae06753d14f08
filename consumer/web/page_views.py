"""What the status page shows, gathered from consumer.ops and the store: the status figures,
the chart, failed jobs, the last alerts and an event search with its trails.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import redis

from consumer.errors import InvalidIdentifier, NotFound, OperatorError
from consumer.models import check_external_id, check_source_name
from consumer.ops import Ops, iso
from consumer.ops import events as ev
from consumer.ops import failed as fl
from consumer.ops import status as st
from consumer.store import chart, keys
from consumer.web import page_chart

# The alert sender's list of recent alerts (store.alerts.remember: newest first, JSON each).
# Read here rather than with store.alerts.recent, which stops at an entry it cannot read.
ALERTS_RECENT = keys.ALERTS_RECENT
ALERTS_SHOWN = 10
FAILED_SHOWN = 50
FOUND_SHOWN = 10
ALERT_STATES = ("firing", "resolved")


@dataclass(frozen=True)
class Alert:
    """One alert as the page lists it."""

    at: str | None
    kind: str
    state: str
    text: str
    delivered: bool


@dataclass(frozen=True)
class Alerts:
    """The last alerts, and how many stored entries could not be read."""

    shown: list[Alert] = field(default_factory=list)
    unreadable: int = 0


@dataclass(frozen=True)
class Search:
    """An event search by external id: what was asked, what was found, or why not."""

    external_id: str = ""
    source: str = ""
    events: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None

    @property
    def asked(self) -> bool:
        """Whether the request asked for a search at all."""
        return bool(self.external_id)


def hours_from(args: Mapping[str, str]) -> int:
    """The chart's span from the query string (one of page_chart.HOUR_CHOICES)."""
    text = args.get("hours") or str(page_chart.DEFAULT_HOURS)
    choices = {str(h): h for h in page_chart.HOUR_CHOICES}
    if text not in choices:
        shown = ", ".join(choices)
        raise OperatorError(f"hours must be one of {shown}")
    return choices[text]


def overview(ops: Ops, hours: int) -> dict[str, Any]:
    """The status figures, the chart, the failed jobs and the last alerts."""
    failed, failed_error = _failed(ops)
    return {
        "status": st.status(ops),
        "chart": page_chart.draw(chart.series(ops.r, ops.clock(), hours * 60), hours),
        "failed": failed[:FAILED_SHOWN],
        "failed_total": len(failed),
        "failed_error": failed_error,
        "alerts": recent_alerts(ops.r),
    }


def _failed(ops: Ops) -> tuple[list[dict[str, Any]], str | None]:
    """Failed jobs, or why they cannot be listed (a job in the registry that is not ours)."""
    try:
        return fl.list_failed(ops), None
    except OperatorError as e:
        return [], str(e)


def recent_alerts(r: redis.Redis, limit: int = ALERTS_SHOWN) -> Alerts:
    """The newest alerts from the alert sender's list; an entry that cannot be read is counted."""
    try:
        raw: list[str] = r.lrange(ALERTS_RECENT, 0, limit - 1)  # type: ignore[assignment]
    except redis.exceptions.ResponseError:  # the key holds something else than a list
        return Alerts(unreadable=1)
    shown, unreadable = [], 0
    for item in raw:
        alert = _alert(item)
        if alert is None:
            unreadable += 1
        else:
            shown.append(alert)
    return Alerts(shown, unreadable)


def _alert(item: str) -> Alert | None:
    """One stored alert entry, or None when it is not the JSON object the sender writes."""
    try:
        data = json.loads(item)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    ts, kind, state, text = (data.get(k) for k in ("ts", "kind", "state", "text"))
    if not isinstance(ts, int | float) or isinstance(ts, bool):
        return None
    if not isinstance(kind, str) or state not in ALERT_STATES or not isinstance(text, str):
        return None
    return Alert(iso(ts), kind, str(state), text, data.get("delivered") is True)


def search(ops: Ops, args: Mapping[str, str]) -> Search:
    """Events of an external id (optionally of one source), newest first, with their trails."""
    external_id, source = args.get("external_id", ""), args.get("source", "")
    asked = Search(external_id, source)
    if not external_id:
        return asked
    try:
        check_external_id(external_id)
        if source:
            check_source_name(source)
    except InvalidIdentifier as e:
        return Search(external_id, source, error=str(e))
    filters = ev.Filters(source=source or None, external_id=external_id)
    found = []
    for event in ev.search_events(ops.r, filters, FOUND_SHOWN):
        try:
            shown = ev.show_event(ops.r, event["source"], event["event_id"])
        except NotFound:  # expired since the search read it
            continue
        found.append({**shown, "trail": [_step(e) for e in shown["trail"]]})
    return Search(external_id, source, found)


def _step(entry: Mapping[str, Any]) -> dict[str, str]:
    """One trail entry as a row: when, what, and its other non-empty fields as `name=value`."""
    shown = sorted(
        (k, v) for k, v in entry.items() if k not in ("at", "what") and v not in ("", None)
    )
    details = ", ".join(f"{k}={v}" for k, v in shown)
    return {
        "at": str(entry.get("at") or ""),
        "what": str(entry.get("what", "")),
        "details": details,
    }
