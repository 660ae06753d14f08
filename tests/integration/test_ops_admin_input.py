"""The admin API refuses what it cannot read exactly, before it changes anything."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from consumer.settings import Settings
from consumer.store import events
from consumer.store.connection import Connections
from tests.helpers import post


def _queued(client: FlaskClient, settings: Settings, conns: Connections) -> str:
    """One accepted event, still queued; returns its job id."""
    post(client, settings, "e-1", "u-1")
    event = events.load(conns.text, "userdb", "e-1")
    assert event is not None
    return event.job_id


@pytest.mark.parametrize(
    "body",
    [
        {"dry_run": "true", "reason": "r"},
        {"dry_run": 1, "reason": "r"},
        {"dry_run": True, "sourcee": "userdb"},
        {"external-id": "u-9", "reason": "r"},
    ],
)
def test_replay_with_a_non_boolean_dry_run_or_unknown_field_is_400_and_replays_nothing(
    admin: FlaskClient,
    client: FlaskClient,
    settings: Settings,
    conns: Connections,
    body: dict[str, Any],
) -> None:
    """A dry run spelt "true", or a misspelt filter, is refused: it must not replay everything."""
    job_id = _queued(client, settings, conns)
    answer = admin.post("/admin/replay", json=body)
    assert (answer.status_code, answer.get_json()["error"]) == (400, "invalid_request")
    event = events.load(conns.text, "userdb", "e-1")
    assert event is not None and event.job_id == job_id and not event.replayed


@pytest.mark.parametrize(
    "body",
    [
        {"all": True, "job_ids": ["x"], "reason": "r"},
        {"all": "yes", "reason": "r"},
        {"job_ids": "x", "reason": "r"},
        {"all": True, "reason": "r", "force": True},
    ],
)
def test_requeue_with_an_ambiguous_body_is_400(
    admin: FlaskClient, conns: Connections, body: dict[str, Any]
) -> None:
    """Both all and job_ids, a non-boolean all, a non-list job_ids or an unknown field: 400."""
    answer = admin.post("/admin/requeue", json=body)
    assert (answer.status_code, answer.get_json()["error"]) == (400, "invalid_request")


def test_erase_with_an_unknown_field_is_400_and_accepts_nothing(
    admin: FlaskClient, conns: Connections
) -> None:
    """A misspelt field in an erasure is refused rather than ignored."""
    body = {"source": "userdb", "external_id": "u-1", "objects": ["contacts"]}
    answer = admin.post("/admin/erase", json=body)
    assert answer.status_code == 400
    assert conns.text.xlen("zc:events") == 0


def test_events_search_with_a_limit_below_one_is_400(
    admin: FlaskClient, client: FlaskClient, settings: Settings, conns: Connections
) -> None:
    """limit=0 is refused, not answered with one event."""
    post(client, settings, "e-1", "u-1")
    answer = admin.get("/admin/events?limit=0")
    assert (answer.status_code, answer.get_json()["error"]) == (400, "invalid_request")


def test_events_search_command_with_a_limit_below_one_fails_with_one_line(
    cli: Any, conns: Connections
) -> None:
    """--limit 0 is exit 1 and one line."""
    result = cli("events", "search", "--limit", "0")
    assert result.exit_code == 1
    assert result.stderr == "zeeg-consumer: limit must be 1 or more, not 0\n"


@pytest.mark.parametrize("source", ["user:db", "UserDB", "userdb%0A"])
def test_events_show_with_a_malformed_source_is_400_before_any_key(
    admin: FlaskClient, conns: Connections, source: str
) -> None:
    """A source name of the wrong shape never reaches a Redis key."""
    answer = admin.get(f"/admin/events/{source}/e-1")
    assert (answer.status_code, answer.get_json()["error"]) == (400, "invalid_request")


# Methods and paths the admin API has no route for.
UNROUTED = pytest.mark.parametrize(
    ("method", "path"),
    [("PATCH", "/admin/status"), ("OPTIONS", "/admin/status"), ("GET", "/admin")],
)


@UNROUTED
def test_methods_and_paths_without_a_route_are_404_without_a_configured_token(
    client: FlaskClient, method: str, path: str
) -> None:
    """No 405, OPTIONS reply or redirect tells that an admin API exists when it is off."""
    answer = client.open(path, method=method, headers={"Authorization": "Bearer x"})
    assert answer.status_code == 404


@UNROUTED
def test_methods_and_paths_without_a_route_are_401_with_a_wrong_token(
    admin_app: Flask, method: str, path: str
) -> None:
    """A wrong token learns nothing about the routes either."""
    headers = {"Authorization": "Bearer wrong"}
    answer = admin_app.test_client().open(path, method=method, headers=headers)
    assert answer.status_code == 401


@pytest.mark.parametrize(
    "path", ["/admin/events?since=nan", "/admin/events?until=-5", "/admin/audit?since=1e300"]
)
def test_a_time_out_of_range_is_400_not_500(
    admin: FlaskClient, conns: Connections, path: str
) -> None:
    """A time no stream id can hold is refused with a JSON 400."""
    answer = admin.get(path)
    assert (answer.status_code, answer.get_json()["error"]) == (400, "invalid_request")
