"""Small pieces of the operator functions: time parsing, filters, CSV ids, retention."""

from __future__ import annotations

from consumer.ops import Ops
from consumer.ops.status import sla_risk
from consumer.settings import Settings
from consumer.store import events, keys, retention
from consumer.store.connection import Connections
from tests.helpers import accept_event

NOW = 1_800_000_000.0


def test_trim_drops_entries_older_than_retention_and_keeps_newer(conns: Connections) -> None:
    """Exact trimming by age on both streams."""
    r = conns.text
    old, new = int((NOW - 40 * 86400) * 1000), int((NOW - 86400) * 1000)
    for stream in (keys.EVENT_LOG, keys.AUDIT):
        r.xadd(stream, {"a": "1"}, id=f"{old}-0")
        r.xadd(stream, {"a": "2"}, id=f"{new}-0")
    removed = retention.trim(r, NOW, event_log_days=30, audit_days=400)
    assert removed == {"event_log": 1, "audit": 0, "pending": 0}
    assert [e[0] for e in r.xrange(keys.EVENT_LOG)] == [f"{new}-0"]
    assert r.xlen(keys.AUDIT) == 2


def test_sla_risk_counts_unfinished_events_past_half_and_all_of_the_sla(
    settings: Settings, conns: Connections
) -> None:
    """Unfinished after the SLA is at risk; after half of it, an early warning; done is neither."""
    old, recent = NOW - 100 * 3600, NOW - 40 * 3600  # SLA 72 h: past all of it, past half
    for n, received in enumerate((old, old, recent)):
        accept_event(conns, f"e-{n}", f"u-{n}", received, dedupe_ttl_days=7, retention_days=30)
    events.mark_done(conns.text, "userdb", "e-1", NOW)
    risk = sla_risk(Ops(settings, conns, clock=lambda: NOW), NOW)
    assert (risk["at_risk"], risk["past_half_sla"]) == (1, 2)
