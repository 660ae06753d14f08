"""Times at the boundary (a plausible range, units by magnitude) and readers that survive a
bad stored time: search, show, status and the audit export show it raw, never crash or cut.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from flask.testing import FlaskClient

from consumer.settings import Settings
from consumer.store import events, keys, mappings
from consumer.store.connection import Connections
from tests.helpers import drain, post

RID = "3f2b8c1e-1a2b-4c3d-8e9f-0123456789ab"
AT = 1733000000.0  # 2024-11-30T20:53:20Z
BAD_TIME = "1733000000000.0"  # what an old version stored for a microsecond occurred_at


@pytest.mark.parametrize("created_at", [1733000000000000, "1733000000000000"])
def test_a_webhook_time_in_microseconds_is_stored_as_seconds(
    client: FlaskClient,
    settings: Settings,
    conns: Connections,
    admin: FlaskClient,
    cli: Any,
    created_at: Any,
) -> None:
    """The sender's odd unit is read, and search and show work on the event afterwards."""
    post(client, settings, "e-us", "u-e-us", created_at=created_at)
    event = events.load(conns.text, "userdb", "e-us")
    assert event is not None and event.occurred_at == AT
    found = admin.get("/admin/events").get_json()["events"]
    assert [e["occurred_at"] for e in found] == ["2024-11-30T20:53:20.000Z"]
    shown = cli("events", "show", "userdb", "e-us", "--json")
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout)["occurred_at"] == "2024-11-30T20:53:20.000Z"


@pytest.mark.parametrize("created_at", [10**13, "2999-01-01T00:00:00Z", 631152000, 10**40])
def test_a_webhook_time_out_of_range_is_accepted_without_it(
    client: FlaskClient, settings: Settings, conns: Connections, cli: Any, created_at: Any
) -> None:
    """The deletion is not lost: it is stored with no occurred_at (its receipt time counts)."""
    post(client, settings, "e-far", "u-e-far", created_at=created_at)
    event = events.load(conns.text, "userdb", "e-far")
    assert event is not None and event.occurred_at is None
    found = cli("events", "search", "--json")
    assert found.exit_code == 0, found.output
    assert [e["event_id"] for e in json.loads(found.stdout)] == ["e-far"]


def test_an_admin_put_with_linked_at_in_microseconds_links_at_that_time(
    admin: FlaskClient, conns: Connections
) -> None:
    """PUT linked_at in microseconds: read as seconds, as a webhook time is."""
    body = {"record_id": RID, "linked_at": 1733000000000000}
    answer = admin.put("/admin/mappings/userdb/contacts/u-1", json=body)
    assert answer.status_code == 200, answer.get_json()
    assert mappings.get(conns.text, "userdb", "contacts", "u-1")[0].linked_at == AT


# --- readers: bad values already in Redis (an old version, a hand edit) ---------------------


def _bad_event(conns: Connections) -> None:
    """An event hash, log entry and trail an old version or a hand edit could have left."""
    r = conns.text
    fields = {"source": "userdb", "event_id": "e-bad", "external_id": "u-bad"}
    r.hset(
        keys.event("userdb", "e-bad"),
        mapping={
            **fields,
            "occurred_at": BAD_TIME,
            "received_at": "yesterday",
            "completed_at": "nan",
            "attempts": "many",
            "status": "done",
            "t:contacts": "{not json",
        },
    )
    r.xadd(keys.EVENT_LOG, {**fields, "occurred_at": BAD_TIME, "received_at": "1e400"})
    r.rpush(keys.trail("userdb", "e-bad"), '{"at": "soon", "what": "received"}', "{not json", "[1]")


def _bad_audit(conns: Connections) -> None:
    """Three audit rows, the middle one with times and a status no reader can convert."""
    base = {"event_id": "e-1", "source": "userdb", "external_id": "u-1", "object": "contacts"}
    good = {**base, "outcome": "deleted", "http_status": "200", "completed_at": repr(AT)}
    bad = {**good, "event_id": "e-bad", "occurred_at": BAD_TIME, "completed_at": "soon"}
    bad["http_status"] = "2OO"
    for row in (good, bad, {**good, "event_id": "e-3"}):
        conns.text.xadd(keys.AUDIT, row)  # type: ignore[arg-type]


def test_events_search_and_show_show_bad_stored_values_raw(
    client: FlaskClient, settings: Settings, conns: Connections, admin: FlaskClient, cli: Any
) -> None:
    """CLI and admin list both events; the bad one's fields are shown as stored."""
    post(client, settings, "e-good", "u-e-good", created_at=1733000000)
    _bad_event(conns)
    for found in (
        admin.get("/admin/events").get_json()["events"],
        json.loads(cli("events", "search", "--json").stdout),
    ):
        assert sorted(e["event_id"] for e in found) == ["e-bad", "e-good"]
        (bad,) = [e for e in found if e["event_id"] == "e-bad"]
        assert (bad["occurred_at"], bad["received_at"]) == (BAD_TIME, "yesterday")
        assert (bad["completed_at"], bad["attempts"]) == ("nan", "many")
        assert bad["outcomes"] == {"contacts": "{not json"}
    text = cli("events", "search")
    assert text.exit_code == 0 and "e-bad" in text.stdout and "e-good" in text.stdout
    by_outcome = cli("events", "search", "--outcome", "deleted", "--json")
    assert by_outcome.exit_code == 0, by_outcome.output
    shown = admin.get("/admin/events/userdb/e-bad")
    assert shown.status_code == 200, shown.get_data(as_text=True)
    assert shown.get_json()["occurred_at"] == BAD_TIME
    assert [e.get("at") for e in shown.get_json()["trail"]] == ["soon", None, None]
    result = cli("events", "show", "userdb", "e-bad")
    assert result.exit_code == 0, result.output
    assert BAD_TIME in result.stdout and "{not json" in result.stdout


def test_audit_export_keeps_every_row_around_a_bad_stored_value(
    conns: Connections, admin: FlaskClient, cli: Any
) -> None:
    """JSON lines and CSV, CLI and admin stream: all three rows, the bad one's values raw."""
    _bad_audit(conns)
    exports = {
        "cli jsonl": cli("audit", "export").stdout,
        "admin jsonl": admin.get("/admin/audit").get_data(as_text=True),
        "cli csv": cli("audit", "export", "--format", "csv").stdout,
        "admin csv": admin.get("/admin/audit?format=csv").get_data(as_text=True),
    }
    for name, text in exports.items():
        if "csv" in name:
            rows: list[dict[str, Any]] = list(csv.DictReader(io.StringIO(text)))
        else:
            rows = [json.loads(line) for line in text.splitlines()]
        assert [r["event_id"] for r in rows] == ["e-1", "e-bad", "e-3"], name
        assert (rows[1]["occurred_at"], rows[1]["completed_at"]) == (BAD_TIME, "soon"), name
        assert str(rows[1]["http_status"]) == "2OO", name
        assert rows[2]["completed_at"] == "2024-11-30T20:53:20.000Z", name


def test_status_survives_bad_stored_audit_rows(
    conns: Connections, admin: FlaskClient, cli: Any
) -> None:
    """An audit row without an outcome counts under "", a pause since no time: status answers."""
    import time

    conns.text.xadd(keys.AUDIT, {"event_id": "e-x", "completed_at": repr(time.time())})
    conns.text.xadd(keys.AUDIT, {"event_id": "e-y", "outcome": "deleted"})
    conns.text.hset(keys.PAUSE, mapping={"reason": "maintenance", "since": "soon", "by": "ops"})
    assert admin.get("/admin/status").status_code == 200
    result = cli("status", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["last_hour"] == {"": 1, "deleted": 1}
    assert json.loads(result.stdout)["paused"]["reason"] == "maintenance"
    assert cli("status").exit_code == 0


@pytest.mark.parametrize("stored", ["soon", "nan", BAD_TIME])
def test_delivery_of_an_event_with_a_bad_stored_time_uses_its_receipt_time(
    client: FlaskClient, settings: Settings, conns: Connections, stored: str
) -> None:
    """The job still erases (not a crash, not a failed job); the stale guard uses received_at."""
    post(client, settings, "e-edit", "u-e-edit", created_at=1733000000)
    conns.text.hset(keys.event("userdb", "e-edit"), "occurred_at", stored)
    event = events.load(conns.text, "userdb", "e-edit")
    assert event is not None and event.occurred_at is None
    drain(settings, conns)
    done = events.load(conns.text, "userdb", "e-edit")
    assert done is not None and done.status == "done"
