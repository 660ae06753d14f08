"""The one-event fast path (web/webhooks_fast.py): Flask's answer without Flask, else Flask's."""

from __future__ import annotations

import re
from typing import Any

import pytest
import redis
from flask import Flask, request
from flask.testing import FlaskClient

from consumer import sources
from consumer.intake import Intake
from consumer.store import keys
from consumer.store.connection import Connections
from consumer.web.webhooks_fast import WebhookFastPath
from tests.helpers import signed, userdb_body, webhook


def _through_flask(app: Flask) -> list[str]:
    """Paths of the requests Flask's own machinery handles from now on."""
    seen: list[str] = []

    @app.before_request
    def note() -> None:
        seen.append(request.path)

    return seen


def _flask_only(app: Flask) -> None:
    """Take the fast path out of app, so Flask answers every request (the comparison)."""
    proxy = app.wsgi_app
    fast = proxy.app  # type: ignore[attr-defined]
    assert isinstance(fast, WebhookFastPath)
    proxy.app = fast.app  # type: ignore[attr-defined]


def _answer(app: Flask, event_id: str) -> tuple[int, list[tuple[str, str]], str]:
    """Status, headers and body (job id blanked) of a webhook for event_id."""
    settings = app.extensions["zeeg_consumer"].settings
    body = userdb_body(event_id, "u-1")
    answer = webhook(app.test_client(), "userdb", body, signed(settings, "userdb", body))
    text = re.sub(r'"job_id":"[0-9a-f]{32}"', '"job_id":"-"', answer.get_data(as_text=True))
    return answer.status_code, list(answer.headers), text


def test_a_stored_event_is_answered_without_flask_exactly_as_flask_answers_it(app: Flask) -> None:
    """Accepted and duplicate: the same status, headers and body as the view, Flask unused."""
    seen = _through_flask(app)
    fast = [_answer(app, "evt-fast-1"), _answer(app, "evt-fast-1")]
    assert seen == []
    _flask_only(app)
    flask = [_answer(app, "evt-view-1"), _answer(app, "evt-view-1")]
    assert len(seen) == 2
    assert [s for s, _, _ in fast] == [202, 200]
    assert fast == [(s, h, b.replace("evt-view-1", "evt-fast-1")) for s, h, b in flask]


@pytest.mark.parametrize(
    ("case", "status"),
    [
        ("bad signature", 401),
        ("ignored type", 200),
        ("not json", 415),
        ("too large", 413),
        ("bad body", 400),
        ("trailing slash", 404),
        ("unknown source", 404),
    ],
)
def test_requests_the_fast_path_does_not_answer_go_to_flask(
    app: Flask, client: FlaskClient, case: str, status: int
) -> None:
    """Everything but a stored event is answered by the view, as before (body handed back)."""
    settings = app.extensions["zeeg_consumer"].settings
    seen = _through_flask(app)
    body = userdb_body(
        "evt-other", "u-1", type="contact.updated" if case == "ignored type" else "contact.deleted"
    )
    if case == "too large":
        body = b" " * (settings.intake.max_body_bytes + 1)
    if case == "bad body":
        body = b'{"id": '
    headers = signed(settings, "userdb", body)
    if case == "bad signature":
        headers["X-Signature"] = "sha256=" + "0" * 64
    if case == "not json":
        headers["Content-Type"] = "text/plain"
    path = {"trailing slash": "/webhooks/userdb/", "unknown source": "/webhooks/nobody"}
    answer = client.post(path.get(case, "/webhooks/userdb"), data=body, headers=headers)
    assert answer.status_code == status
    expected = {"status": "ignored"} if status == 200 else {"error": answer.get_json()["error"]}
    assert expected.items() <= answer.get_json().items()
    assert seen == [path.get(case, "/webhooks/userdb")]


def test_a_store_failure_in_the_fast_path_is_answered_by_flask_and_stored_once(
    app: Flask, client: FlaskClient, conns: Connections, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Redis down while storing: Flask's 503 and its count, and no second attempt to store."""
    settings = app.extensions["zeeg_consumer"].settings
    calls: list[str] = []

    def down(self: Intake, event: object, now: float, tally: object = None) -> None:
        calls.append("accept")
        raise redis.exceptions.ConnectionError("down")

    monkeypatch.setattr(Intake, "accept", down)
    body = userdb_body("evt-down", "u-1")
    answer = webhook(client, "userdb", body, signed(settings, "userdb", body))
    assert (answer.status_code, answer.get_json()["error"]) == (503, "store_unavailable")
    assert calls == ["accept"]
    counted = conns.text.hgetall(keys.METRICS)
    assert counted['zeeg_consumer_webhooks_total{source="userdb",status="503"}'] == "1"


@pytest.mark.parametrize(
    ("case", "status"), [("forged", 401), ("ignored type", 200), ("accepted", 202)]
)
def test_a_webhook_is_verified_once_whichever_layer_answers_it(
    app: Flask,
    client: FlaskClient,
    conns: Connections,
    monkeypatch: pytest.MonkeyPatch,
    case: str,
    status: int,
) -> None:
    """Flask answers a forged request or an ignored event with the fast path's verdict."""
    settings = app.extensions["zeeg_consumer"].settings
    calls: list[bytes] = []
    verifier = sources.VERIFIERS["hmac-sha256"]

    def counting(*args: Any) -> Any:
        calls.append(args[1])
        return verifier(*args)

    monkeypatch.setitem(sources.VERIFIERS, "hmac-sha256", counting)
    kind = "contact.updated" if case == "ignored type" else "contact.deleted"
    body = userdb_body(f"evt-{case}", "u-1", type=kind)
    headers = signed(settings, "userdb", body)
    if case == "forged":
        headers["X-Signature"] = "sha256=" + "0" * 64
    answer = webhook(client, "userdb", body, headers)
    assert answer.status_code == status
    assert calls == [body]
    failures = 'zeeg_consumer_verification_failures_total{reason="bad_signature",source="userdb"}'
    counted = conns.text.hgetall(keys.METRICS)
    assert counted.get(failures) == ("1" if case == "forged" else None)
