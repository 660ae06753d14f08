"""Batches (Auth0 log streams, Okta): verified once, a job per deletion, an answer per item."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask.testing import FlaskClient

from consumer.queue import erasure_queue
from consumer.store.connection import Connections
from tests.helpers import SENDER_ENV, okta_body, okta_event, stored_keys, webhook

AUTH0 = {"Authorization": "Bearer " + SENDER_ENV["AUTH0_TOKEN"]}
OKTA = {"Authorization": SENDER_ENV["OKTA_TOKEN"]}


def _log(log_id: str, user_id: str | None, kind: str = "sdu") -> dict[str, Any]:
    data: dict[str, Any] = {"date": "2023-11-01T10:00:00.000Z", "type": kind}
    if user_id is not None:
        data["user_id"] = user_id
    return {"log_id": log_id, "data": data}


def _jobs(conns: Connections) -> list[list[Any]]:
    return [list(job.args) for job in erasure_queue(conns.raw).jobs]


def test_okta_batch_makes_one_job_per_deletion_in_body_order(
    sender_client: FlaskClient, conns: Connections
) -> None:
    """Three events, two deletions: two jobs, and the answer lists all three."""
    body = okta_body(
        okta_event("e-1", "00u1"),
        okta_event("e-2", "00u2", kind="user.session.start"),
        okta_event("e-3", "00u3"),
    )
    answer = webhook(sender_client, "okta", body, OKTA)
    assert answer.status_code == 202
    results = answer.json["results"]
    assert [(r["index"], r["status"], r["event_id"]) for r in results] == [
        (0, "accepted", "e-1"),
        (1, "ignored", "e-2"),
        (2, "accepted", "e-3"),
    ]
    assert answer.json["counts"] == {"accepted": 2, "ignored": 1}
    assert _jobs(conns) == [["okta", "e-1"], ["okta", "e-3"]]


def test_batch_with_one_invalid_event_accepts_the_valid_ones_and_reports_the_other(
    sender_client: FlaskClient, conns: Connections
) -> None:
    """A deletion without a user id is reported invalid (422 code) in a 202 answer."""
    logs = [_log("L1", "auth0|1"), _log("L2", None), _log("L3", "auth0|3")]
    answer = webhook(sender_client, "auth0logs", json.dumps(logs).encode(), AUTH0)
    assert answer.status_code == 202
    invalid = answer.json["results"][1]
    assert (invalid["index"], invalid["status"], invalid["error"]) == (
        1,
        "invalid",
        "invalid_field",
    )
    assert "data.user_id" in invalid["message"]
    assert _jobs(conns) == [["auth0logs", "L1"], ["auth0logs", "L3"]]


def test_batch_where_no_event_is_valid_is_422_and_stores_nothing(
    sender_client: FlaskClient, conns: Connections
) -> None:
    """Every item invalid (no user id, not an object): 422 with the per-item results."""
    body = json.dumps([_log("L1", None), "not an event", 7]).encode()
    answer = webhook(sender_client, "auth0logs", body, AUTH0)
    assert answer.status_code == 422
    assert answer.json["error"] == "invalid_batch"
    assert [r["error"] for r in answer.json["results"]] == [
        "invalid_field",
        "invalid_body",
        "invalid_body",
    ]
    assert stored_keys(conns) == []


def test_batch_of_duplicates_and_ignored_events_is_200(
    sender_client: FlaskClient, conns: Connections
) -> None:
    """Redelivered batch: nothing new is accepted, every event is accounted for, 200."""
    body = okta_body(okta_event("e-1", "00u1"), okta_event("e-2", "00u2", kind="user.mfa.reset"))
    first = webhook(sender_client, "okta", body, OKTA)
    again = webhook(sender_client, "okta", body, OKTA)
    assert first.status_code == 202
    assert again.status_code == 200
    assert [r["status"] for r in again.json["results"]] == ["duplicate", "ignored"]
    assert again.json["results"][0]["job_id"] == first.json["results"][0]["job_id"]
    assert len(erasure_queue(conns.raw)) == 1


@pytest.mark.parametrize("ctype", ["application/json", "application/x-ndjson"])
def test_auth0_json_lines_body_is_a_batch(
    sender_client: FlaskClient, conns: Connections, ctype: str
) -> None:
    """JSON lines (one log per line, blank lines skipped) are split like an array."""
    lines = [json.dumps(_log("L1", "auth0|1")), "", json.dumps(_log("L2", "auth0|2"))]
    answer = webhook(sender_client, "auth0logs", "\n".join(lines).encode(), AUTH0, ctype)
    assert answer.status_code == 202
    assert [r["event_id"] for r in answer.json["results"]] == ["L1", "L2"]
    assert len(erasure_queue(conns.raw)) == 2


def test_json_lines_with_a_broken_line_reports_that_line(
    sender_client: FlaskClient, conns: Connections
) -> None:
    """A line that is not JSON is an invalid item naming its line; the others are accepted."""
    body = json.dumps(_log("L1", "auth0|1")) + "\n{broken\n" + json.dumps(_log("L3", "auth0|3"))
    answer = webhook(sender_client, "auth0logs", body.encode(), AUTH0)
    assert answer.status_code == 202
    broken = answer.json["results"][1]
    assert (broken["status"], broken["message"]) == ("invalid", "line 2 is not JSON")
    assert _jobs(conns) == [["auth0logs", "L1"], ["auth0logs", "L3"]]


def test_auth0_single_object_body_answers_like_a_lone_event(
    sender_client: FlaskClient, conns: Connections
) -> None:
    """The log stream's "JSON object" format: one result, not a list."""
    answer = webhook(sender_client, "auth0logs", json.dumps(_log("L9", "auth0|9")).encode(), AUTH0)
    assert answer.status_code == 202
    assert answer.json["status"] == "accepted" and answer.json["event_id"] == "L9"


def test_batch_is_verified_once_as_a_whole(sender_client: FlaskClient, conns: Connections) -> None:
    """A batch with a wrong token is refused whole: 401, nothing stored."""
    body = okta_body(okta_event("e-1", "00u1"))
    answer = webhook(sender_client, "okta", body, {"Authorization": "wrong"})
    assert answer.status_code == 401
    assert stored_keys(conns) == []


@pytest.mark.parametrize(
    "body",
    [b"[]", okta_body(), b'{"data": {"events": "no"}}'],
    ids=["empty array", "no events", "events not a list"],
)
def test_batch_without_events_is_400(
    sender_client: FlaskClient, conns: Connections, body: bytes
) -> None:
    """An empty batch or an envelope without an events list: 400, nothing stored."""
    source = "auth0logs" if body.startswith(b"[") else "okta"
    answer = webhook(sender_client, source, body, AUTH0 if source == "auth0logs" else OKTA)
    assert answer.status_code == 400
    assert stored_keys(conns) == []


def test_json_lines_media_type_is_refused_for_a_single_event_source(
    sender_client: FlaskClient, conns: Connections
) -> None:
    """application/x-ndjson is only understood by sources that take JSON lines: 415."""
    body = b'{"id": "x", "type": "contact.deleted", "data": {"id": "c"}}'
    answer = webhook(sender_client, "unsigned", body, {}, "application/x-ndjson")
    assert answer.status_code == 415


def test_okta_verification_challenge_is_echoed(sender_client: FlaskClient) -> None:
    """GET with X-Okta-Verification-Challenge answers {"verification": <value>}."""
    answer = sender_client.get(
        "/webhooks/okta", headers={"X-Okta-Verification-Challenge": "rHVgFkR2Js3bSA5c7ZL6"}
    )
    assert answer.status_code == 200
    assert answer.json == {"verification": "rHVgFkR2Js3bSA5c7ZL6"}


def test_okta_challenge_without_the_header_is_400(sender_client: FlaskClient) -> None:
    """GET without the challenge header: 400."""
    assert sender_client.get("/webhooks/okta").status_code == 400


def test_verification_get_is_405_for_other_presets(sender_client: FlaskClient) -> None:
    """Only okta-preset sources answer the challenge; others refuse GET with 405."""
    answer = sender_client.get("/webhooks/stripe", headers={"X-Okta-Verification-Challenge": "abc"})
    assert answer.status_code == 405
    assert "verification" not in answer.json


def test_verification_get_for_an_unknown_source_is_404(sender_client: FlaskClient) -> None:
    """GET for a source that is not configured: 404."""
    answer = sender_client.get("/webhooks/nope", headers={"X-Okta-Verification-Challenge": "a"})
    assert answer.status_code == 404
