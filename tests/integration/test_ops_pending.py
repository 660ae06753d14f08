"""The pending index under replays and retention, the failed-outcome filter, spreadsheet CSVs."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient

from consumer.devtools.sandbox import Sandbox
from consumer.ops import Ops
from consumer.ops import replay as rp
from consumer.ops.events import Filters, filters_from
from consumer.ops.status import sla_risk
from consumer.settings import Settings
from consumer.store import keys, retention
from consumer.store.connection import Connections
from tests.helpers import accept_event, drain, failed_events, post

# Real time: the event log takes stream ids from the Redis clock.
NOW = time.time()


def _accept_at(conns: Connections, event_id: str, received: float) -> None:
    """One userdb event accepted at the given time (kept 30 days)."""
    accept_event(conns, event_id, "u-1", received, dedupe_ttl_days=7, retention_days=30)


def test_replaying_a_late_event_keeps_it_at_risk(settings: Settings, conns: Connections) -> None:
    """A replay does not restart the SLA clock of an event still pending: it stays at risk."""
    _accept_at(conns, "e-1", NOW - 100 * 3600)
    ops = Ops(settings, conns, clock=lambda: NOW)
    selected = rp.select(ops, Filters())
    (replayed,) = rp.replay(ops, selected, by="t", reason="late")
    assert replayed["job_id"]
    risk = sla_risk(ops, NOW)
    assert (risk["at_risk"], risk["past_half_sla"]) == (1, 1)


def test_replaying_a_done_event_makes_it_pending_from_the_replay(
    client: FlaskClient, settings: Settings, conns: Connections
) -> None:
    """A done event replayed re-enters the pending index at the replay's time."""
    post(client, settings, "e-1", "u-1")
    drain(settings, conns)
    assert conns.text.zscore(keys.PENDING, "userdb:e-1") is None
    ops = Ops(settings, conns, clock=lambda: NOW)
    list(rp.replay(ops, rp.select(ops, Filters(statuses=("done",))), by="t", reason="again"))
    assert conns.text.zscore(keys.PENDING, "userdb:e-1") == NOW


def test_trim_drops_pending_events_whose_record_expired_and_keeps_stored_ones(
    conns: Connections,
) -> None:
    """An old pending event with no stored record leaves the index; an old stored one stays."""
    _accept_at(conns, "gone", NOW - 40 * 86400)
    _accept_at(conns, "kept", NOW - 40 * 86400)
    _accept_at(conns, "new", NOW - 86400)
    conns.text.delete(keys.event("userdb", "gone"))
    removed = retention.drop_expired_pending(conns.text, NOW, 30, batch=1)
    assert removed == 1
    left = conns.text.zrange(keys.PENDING, 0, -1)
    assert sorted(left) == ["userdb:kept", "userdb:new"]


def test_outcome_failed_selects_events_whose_job_failed(
    cli: Any, client: FlaskClient, settings: Settings, conns: Connections, sandbox: Sandbox
) -> None:
    """--outcome failed finds a failed event (a failed job records no per-target outcome)."""
    post(client, settings, "e-ok", "u-ok")
    drain(settings, conns)
    failed_events(client, settings, conns, sandbox, 1)
    found = json.loads(cli("events", "search", "--outcome", "failed", "--json").stdout)
    assert [e["event_id"] for e in found] == ["e-1"]
    ops = Ops(settings, conns)
    selected = rp.select(ops, filters_from({"outcome": "failed"}, NOW))
    assert [e["event_id"] for e in selected] == ["e-1"]


def test_erase_reads_a_csv_saved_with_a_byte_order_mark(
    cli: Any, conns: Connections, tmp_path: Path
) -> None:
    """A spreadsheet's UTF-8 BOM does not turn the header row into an id to erase."""
    path = tmp_path / "ids.csv"
    path.write_bytes("external_id\r\nu-1\r\nu-2\r\n".encode("utf-8-sig"))
    result = cli("erase", "--source", "userdb", "--csv", str(path), "--json")
    assert result.exit_code == 0, result.output
    accepted = json.loads(result.stdout)["accepted"]
    assert [a["external_id"] for a in accepted] == ["u-1", "u-2"]
