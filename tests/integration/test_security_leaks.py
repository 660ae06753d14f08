"""Nothing a payload carries beyond ids, and no secret, leaks into answers, logs or storage."""

from __future__ import annotations

import json
import logging

import pytest
from flask.testing import FlaskClient

from consumer.devtools.sandbox import Sandbox
from consumer.models import Mapping
from consumer.settings import Settings
from consumer.store import mappings
from consumer.store.connection import Connections
from tests.helpers import (
    HMAC_SECRET,
    STD_SECRET,
    ZEEG_TOKEN,
    deletes,
    drain,
    signed,
    userdb_body,
)

EMAIL = "jane.doe@example.com"


@pytest.mark.parametrize("event_type", [EMAIL, "Jane Doe", "x" * 5000])
def test_an_ignored_answer_never_echoes_an_odd_event_type(
    client: FlaskClient, settings: Settings, event_type: str
) -> None:
    """The type field of an ignored event may hold personal data: it is not copied out."""
    body = json.dumps({"id": "e-1", "type": event_type, "data": {"contact_id": "x"}}).encode()
    answer = client.post("/webhooks/userdb", data=body, headers=signed(settings, "userdb", body))
    assert answer.status_code == 200 and answer.json["status"] == "ignored"
    assert event_type not in answer.get_data(as_text=True)


def test_an_ignored_answer_never_echoes_an_invalid_event_id(
    client: FlaskClient, settings: Settings
) -> None:
    """An event id that would be refused for a deletion is not echoed for an ignored event."""
    body = json.dumps({"id": EMAIL + "\n" + "y" * 300, "type": "contact.updated"}).encode()
    answer = client.post("/webhooks/userdb", data=body, headers=signed(settings, "userdb", body))
    assert answer.status_code == 200 and answer.json["event_id"] is None
    assert EMAIL not in answer.get_data(as_text=True)


LONG = "q" * 300


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", f"/webhooks/{LONG}", None),
        ("get", f"/admin/mappings/userdb/{LONG}/x", None),
        ("get", f"/admin/events?status={LONG}", None),
        ("get", f"/admin/events?outcome={LONG}", None),
        ("get", f"/admin/failed/{LONG}", None),
        ("post", "/admin/erase", {"source": LONG, "external_id": "x"}),
    ],
)
def test_an_error_quotes_at_most_a_short_piece_of_an_outside_value(
    admin: FlaskClient, method: str, path: str, body: dict[str, str] | None
) -> None:
    """A refused name or filter is quoted cut short: an error body never echoes a request."""
    answer = getattr(admin, method)(path, json=body)
    assert 400 <= answer.status_code < 500
    assert "q" * 65 not in answer.get_data(as_text=True)


def _everything_stored(conns: Connections) -> str:
    """Every value of every Redis key (ours and RQ's), as one text to search."""
    r, parts = conns.raw, []
    for key in r.scan_iter(count=1000):
        kind = r.type(key).decode()
        if kind == "string":
            parts.append(r.get(key))
        elif kind == "hash":
            parts += [b"%s=%s" % kv for kv in r.hgetall(key).items()]
        elif kind == "list":
            parts += r.lrange(key, 0, -1)
        elif kind == "set":
            parts += list(r.smembers(key))
        elif kind == "zset":
            parts += r.zrange(key, 0, -1)
        elif kind == "stream":
            parts += [b"%s=%s" % kv for _, f in r.xrange(key) for kv in f.items()]
        parts.append(key)
    return b"\n".join(p for p in parts if p).decode("utf-8", "replace")


def test_secrets_and_payload_data_reach_no_log_and_no_redis_value(
    client: FlaskClient,
    settings: Settings,
    conns: Connections,
    sandbox: Sandbox,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Accepted, refused, retried, auth-paused and failed: no secret or e-mail is kept."""
    caplog.set_level(logging.DEBUG)
    sandbox.state.set_faults(script=[{"status": s, "only": "DELETE"} for s in (500, 401, 422)])
    (rid,) = sandbox.state.seed("contacts", [{}])
    mappings.put(conns.text, Mapping("userdb", "contacts", "u-1", rid, 1.0))
    body = userdb_body("evt-1", "u-1", email=EMAIL, data={"contact_id": "u-1", "name": "Jane"})
    assert client.post("/webhooks/userdb", data=body, headers=signed(settings, "userdb", body))
    bad = {"Content-Type": "application/json", "X-Signature": "sha256=" + "0" * 64}
    assert client.post("/webhooks/userdb", data=body, headers=bad).status_code == 401
    drain(settings, conns, in_process=True)
    assert [r["status"] for r in deletes(sandbox)] == [500, 401, 422]
    kept = caplog.text + _everything_stored(conns)
    assert "evt-1" in kept  # the search below looks where the event went
    for secret in (ZEEG_TOKEN, HMAC_SECRET, STD_SECRET, EMAIL, "Jane"):
        assert secret not in kept


@pytest.mark.parametrize("by", ["ana\n2026-01-01 delivery resumed by root", ["ana"], 7])
def test_an_admin_by_that_could_forge_a_log_line_is_refused(
    admin: FlaskClient, by: object, caplog: pytest.LogCaptureFixture
) -> None:
    """ "by" is logged and kept in trails: only a string without control characters is taken."""
    answer = admin.post("/admin/pause", json={"reason": "maintenance", "by": by})
    assert answer.status_code == 400
    assert "delivery paused" not in caplog.text
