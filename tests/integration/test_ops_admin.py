"""The admin API: each operator endpoint, and the auth matrix over all of them."""

from __future__ import annotations

import json

import pytest
from flask import Flask
from flask.testing import FlaskClient

from consumer.devtools.sandbox import Sandbox
from consumer.settings import Settings
from consumer.store import events, pause
from consumer.store.connection import Connections
from tests.helpers import ADMIN_TOKEN, drain, failed_events, mapped, post, post_two_and_drain

ENDPOINTS = [
    ("GET", "/admin/status"),
    ("GET", "/admin/events?source=userdb"),
    ("GET", "/admin/events/userdb/e-1"),
    ("GET", "/admin/failed"),
    ("GET", "/admin/failed/j-1"),
    ("POST", "/admin/requeue"),
    ("POST", "/admin/replay"),
    ("POST", "/admin/erase"),
    ("GET", "/admin/audit"),
    ("POST", "/admin/pause"),
    ("POST", "/admin/resume"),
]


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_admin_endpoint_is_404_without_a_configured_token(
    client: FlaskClient, method: str, path: str
) -> None:
    """No CONSUMER_ADMIN_TOKEN: the endpoint answers 404 even with a Bearer header."""
    answer = client.open(path, method=method, headers={"Authorization": "Bearer x"}, json={})
    assert answer.status_code == 404


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
@pytest.mark.parametrize("header", [None, "Bearer wrong"])
def test_admin_endpoint_is_401_without_the_right_token(
    admin_app: Flask, method: str, path: str, header: str | None
) -> None:
    """A missing or wrong Bearer token is 401."""
    headers = {} if header is None else {"Authorization": header}
    answer = admin_app.test_client().open(path, method=method, headers=headers, json={})
    assert answer.status_code == 401
    assert answer.get_json()["error"] == "unauthorized"


@pytest.mark.parametrize("header", [ADMIN_TOKEN, f"Basic {ADMIN_TOKEN}", f"bearer {ADMIN_TOKEN}"])
def test_the_token_without_the_bearer_scheme_is_401(admin_app: Flask, header: str) -> None:
    """The right secret in a malformed header is still refused."""
    answer = admin_app.test_client().get("/admin/status", headers={"Authorization": header})
    assert answer.status_code == 401


def test_status_endpoint_reports_queue_and_pause(
    admin: FlaskClient, client: FlaskClient, settings: Settings, conns: Connections
) -> None:
    """GET /admin/status has the same figures as the status command."""
    post(client, settings, "e-1", "u-1")
    body = admin.get("/admin/status").get_json()
    assert (body["queued"], body["failed"], body["paused"]) == (1, 0, None)
    assert body["sla"]["hours"] == 72


def test_events_endpoints_search_and_show(
    admin: FlaskClient, client: FlaskClient, settings: Settings, conns: Connections
) -> None:
    """GET /admin/events filters by external id; the show endpoint returns the trail."""
    post_two_and_drain(client, settings, conns)
    found = admin.get("/admin/events?external_id=u-1&status=done").get_json()["events"]
    assert [e["event_id"] for e in found] == ["e-1"]
    shown = admin.get("/admin/events/userdb/e-1").get_json()
    assert shown["trail"][0]["what"] == "received"


def test_events_endpoint_with_an_unknown_status_is_400(
    admin: FlaskClient, conns: Connections
) -> None:
    """A bad filter is a 400 JSON error naming the problem."""
    answer = admin.get("/admin/events?status=lost")
    assert answer.status_code == 400
    assert answer.get_json()["error"] == "invalid_request"


def test_show_of_an_unknown_event_is_404(admin: FlaskClient, conns: Connections) -> None:
    """An unknown event is a 404 JSON error."""
    answer = admin.get("/admin/events/userdb/nope")
    assert (answer.status_code, answer.get_json()["error"]) == (404, "not_found")


def test_failed_then_requeue_job_ids_delivers_the_event(
    admin: FlaskClient,
    client: FlaskClient,
    settings: Settings,
    conns: Connections,
    sandbox: Sandbox,
) -> None:
    """GET /admin/failed lists the job; POST /admin/requeue with its id delivers it."""
    (rid,) = failed_events(client, settings, conns, sandbox, 0, recover=True)
    (job,) = admin.get("/admin/failed").get_json()["failed"]
    answer = admin.post("/admin/requeue", json={"job_ids": [job["job_id"]], "reason": "fixed"})
    assert answer.status_code == 200
    drain(settings, conns)
    assert rid not in sandbox.state.records["contacts"]
    note = [t for t in events.trail(conns.text, "userdb", "e-0") if t["what"] == "requeued"]
    assert note[0]["reason"] == "fixed" and note[0]["by"].startswith("admin-api:")


def test_requeue_all_requeues_every_failed_job(
    admin: FlaskClient,
    client: FlaskClient,
    settings: Settings,
    conns: Connections,
    sandbox: Sandbox,
) -> None:
    """{"all": true} requeues each failed job."""
    failed_events(client, settings, conns, sandbox, 0, 1, recover=True)
    answer = admin.post("/admin/requeue", json={"all": True, "reason": "fixed"})
    assert len(answer.get_json()["requeued"]) == 2
    assert admin.get("/admin/failed").get_json()["failed"] == []


def test_requeue_without_a_reason_is_400(admin: FlaskClient, conns: Connections) -> None:
    """The reason is required: it goes to every event's trail."""
    answer = admin.post("/admin/requeue", json={"all": True})
    assert answer.status_code == 400


def test_replay_dry_run_counts_then_replay_delivers(
    admin: FlaskClient,
    client: FlaskClient,
    settings: Settings,
    conns: Connections,
    sandbox: Sandbox,
) -> None:
    """POST /admin/replay with dry_run counts; without it the events are delivered."""
    rids = failed_events(client, settings, conns, sandbox, 0, 1, recover=True)
    dry = admin.post("/admin/replay", json={"dry_run": True, "source": "userdb"}).get_json()
    assert dry["count"] == 2
    done = admin.post("/admin/replay", json={"source": "userdb", "reason": "outage"}).get_json()
    assert len(done["replayed"]) == 2
    drain(settings, conns)
    assert not set(rids) & set(sandbox.state.records["contacts"])


def test_erase_endpoint_accepts_and_deletes(
    admin: FlaskClient, settings: Settings, conns: Connections, sandbox: Sandbox
) -> None:
    """POST /admin/erase is 202 with the event id; the worker deletes the record."""
    rid = mapped(conns, sandbox, "u-7")
    answer = admin.post("/admin/erase", json={"source": "userdb", "external_id": "u-7"})
    assert answer.status_code == 202
    assert answer.get_json()["event_id"].startswith("manual-")
    drain(settings, conns)
    assert rid not in sandbox.state.records["contacts"]


def test_erase_endpoint_with_an_unknown_source_is_404(
    admin: FlaskClient, conns: Connections
) -> None:
    """An unknown source is a 404 JSON error."""
    answer = admin.post("/admin/erase", json={"source": "nope", "external_id": "u-1"})
    assert answer.status_code == 404


def test_audit_endpoint_returns_json_lines(
    admin: FlaskClient, client: FlaskClient, settings: Settings, conns: Connections
) -> None:
    """GET /admin/audit streams one JSON object per line."""
    post(client, settings, "e-1", "u-1")
    drain(settings, conns)
    answer = admin.get("/admin/audit?since=1h")
    assert answer.mimetype == "application/x-ndjson"
    rows = [json.loads(line) for line in answer.get_data(as_text=True).splitlines()]
    assert [(r["event_id"], r["outcome"]) for r in rows] == [("e-1", "not_mapped")]


def test_pause_and_resume_endpoints(admin: FlaskClient, conns: Connections) -> None:
    """POST /admin/pause pauses with the reason; POST /admin/resume lifts it."""
    assert admin.post("/admin/pause", json={"reason": "maintenance"}).status_code == 200
    state = pause.state(conns.text)
    assert state is not None and state.reason == "maintenance"
    assert admin.post("/admin/resume").get_json()["changed"] is True
    assert pause.state(conns.text) is None


def test_a_post_with_a_non_object_body_is_400(admin: FlaskClient, conns: Connections) -> None:
    """A JSON array body is refused with a JSON error, never a 500."""
    answer = admin.post("/admin/pause", data="[1]", content_type="application/json")
    assert answer.status_code == 400


def test_unknown_admin_path_is_still_404_after_auth(admin: FlaskClient) -> None:
    """The catch-all still answers admin paths no route serves."""
    assert admin.get("/admin/nothing-here").status_code == 404
