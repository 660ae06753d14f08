"""status' last hour: the same figures as counting the hour's audit stream, without reading it."""

from __future__ import annotations

import time
from collections import Counter

from consumer.devtools.sandbox import Sandbox
from consumer.ops import Ops
from consumer.ops.status import HOUR, status
from consumer.settings import Settings
from consumer.store import audit, keys
from consumer.store.connection import Connections
from tests.helpers import accept_event, drain
from tests.workers import accept_mapped


def _streamed(conns: Connections, now: float) -> dict[str, int]:
    """What status answered before: every audit entry since an hour before now, counted."""
    return dict(Counter(e.get("outcome", "") for e in audit.entries(conns.text, now - HOUR)))


def _last_hour(settings: Settings, conns: Connections, now: float) -> dict[str, int]:
    answer: dict[str, int] = status(Ops(settings, conns, clock=lambda: now))["last_hour"]
    return answer


def test_last_hour_counts_what_the_audit_stream_holds_at_every_edge(
    settings: Settings, conns: Connections, sandbox: Sandbox
) -> None:
    """Four outcomes (three deleted, one not mapped), status asked at times that put the
    hour's start and end before, at and after each of them: the stream's count every time."""
    accept_mapped(settings, conns.text, conns.raw, sandbox, 3)
    accept_event(conns, "evt-unmapped", "u-unknown", time.time())
    drain(settings, conns)
    stamps = [int(e["id"].split("-")[0]) / 1000 for e in audit.entries(conns.text)]
    assert len(stamps) == 4
    asked = [stamps[-1] + 0.5, stamps[0] + HOUR / 2, stamps[-1] + HOUR + 1]
    for at in stamps:
        asked += [at + HOUR - 0.001, at + HOUR, at + HOUR + 0.001]
    for minute_end in {(int(at) // 60 + 1) * 60 for at in stamps}:
        asked += [minute_end - 0.0005, minute_end, minute_end + HOUR - 0.0005]
    for now in asked:
        assert _last_hour(settings, conns, now) == _streamed(conns, now), now
    assert _last_hour(settings, conns, stamps[-1] + 1) == {"deleted": 3, "not_mapped": 1}


def test_last_hour_reads_no_more_than_the_two_minutes_at_its_ends(
    settings: Settings, conns: Connections
) -> None:
    """Stream rows from the middle of the hour with no minute count (no outcome writes such
    a row) are not read; rows of the current minute are (a hand-made row counts under "")."""
    now = time.time()
    for i in range(500):
        conns.text.xadd(keys.AUDIT, {"outcome": "deleted"}, id=f"{int((now - 1800) * 1000)}-{i}")
    conns.text.xadd(keys.AUDIT, {"event_id": "e-x"})
    assert _streamed(conns, now) == {"deleted": 500, "": 1}
    assert _last_hour(settings, conns, now) == {"": 1}
