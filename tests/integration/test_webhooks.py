"""POST /webhooks/<source>: each SPEC §4 status for hmac-sha256 and standard-webhooks."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import requests
import standardwebhooks
from flask.testing import FlaskClient

from consumer.queue import erasure_queue
from consumer.settings import Settings
from consumer.store.connection import Connections, connect
from consumer.web import create_app
from tests.helpers import HMAC_SECRET, STD_SECRET, RedisServer, signed, userdb_body

STD_BODY = b'{"type": "user.deleted", "data": {"id": "user_1"}}'


def _stored_nothing(conns: Connections) -> bool:
    """No event, dedupe key, log entry or job: only the request counters may exist."""
    stored = [k for k in conns.text.keys("*") if k != "zc:metrics"]
    return stored == [] and len(erasure_queue(conns.raw)) == 0


def _std_headers(body: bytes, msg_id: str = "msg_1", ts: int | None = None) -> dict[str, str]:
    """Headers signed by the standardwebhooks library itself, not by our code."""
    wh = standardwebhooks.Webhook(STD_SECRET)
    from datetime import UTC, datetime

    when = datetime.fromtimestamp(ts if ts is not None else time.time(), UTC)
    signature = wh.sign(msg_id, when, body.decode())
    return {
        "Content-Type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(when.timestamp())),
        "webhook-signature": signature,
    }


def test_accepted_event_answers_202_with_event_and_job_id(
    client: FlaskClient, settings: Settings, conns: Connections
) -> None:
    """A valid hmac-sha256 deletion is stored and enqueued, and says so."""
    body = userdb_body("evt-1", "u-1")
    answer = client.post("/webhooks/userdb", data=body, headers=signed(settings, "userdb", body))
    assert answer.status_code == 202
    assert answer.json["status"] == "accepted" and answer.json["event_id"] == "evt-1"
    assert erasure_queue(conns.raw).job_ids == [answer.json["job_id"]]


def test_standard_webhooks_signature_from_the_reference_library_is_accepted(
    client: FlaskClient, conns: Connections
) -> None:
    """The webhook-id header is the event id; the signature comes from standardwebhooks."""
    answer = client.post("/webhooks/std", data=STD_BODY, headers=_std_headers(STD_BODY, "msg_9"))
    assert answer.status_code == 202
    assert answer.json["event_id"] == "msg_9"


def test_svix_prefixed_headers_are_accepted(client: FlaskClient) -> None:
    """Svix (and Clerk) send svix-id, svix-timestamp and svix-signature."""
    headers = {
        k.replace("webhook-", "svix-"): v for k, v in _std_headers(STD_BODY, "msg_s").items()
    }
    assert client.post("/webhooks/std", data=STD_BODY, headers=headers).status_code == 202


def test_duplicate_event_answers_200_duplicate_with_the_first_job(
    client: FlaskClient, settings: Settings, conns: Connections
) -> None:
    """The same (source, event_id) again creates no second job."""
    body = userdb_body("evt-2", "u-2")
    headers = signed(settings, "userdb", body)
    first = client.post("/webhooks/userdb", data=body, headers=headers)
    second = client.post("/webhooks/userdb", data=body, headers=headers)
    assert second.status_code == 200
    assert second.json == {
        "status": "duplicate",
        "event_id": "evt-2",
        "job_id": first.json["job_id"],
    }
    assert len(erasure_queue(conns.raw)) == 1


def test_non_deletion_event_type_is_ignored_with_200(
    client: FlaskClient, settings: Settings, conns: Connections
) -> None:
    """Other event types are acknowledged and dropped."""
    body = json.dumps({"id": "e", "type": "contact.updated", "data": {"contact_id": "x"}}).encode()
    answer = client.post("/webhooks/userdb", data=body, headers=signed(settings, "userdb", body))
    assert answer.status_code == 200 and answer.json["status"] == "ignored"
    assert "contact.updated" in answer.json["reason"]
    assert _stored_nothing(conns)


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"not json", 400),
        (b"[1, 2]", 400),
        (b'"a string"', 400),
        (b"\xff\xfe", 400),
        (b'{"type": "contact.deleted", "data": {"contact_id": "u"}}', 422),
        (b'{"id": "e1", "type": "contact.deleted", "data": {}}', 422),
        (b'{"id": "e1", "type": "contact.deleted", "data": {"contact_id": ""}}', 422),
        (b'{"id": "e1", "type": "contact.deleted", "data": {"contact_id": "a\\nb"}}', 422),
        (b'{"id": "", "type": "contact.deleted", "data": {"contact_id": "u"}}', 422),
        (b'{"id": "e1", "type": "contact.deleted", "data": {"contact_id": {"x": 1}}}', 422),
    ],
)
def test_signed_but_invalid_bodies_get_their_status_and_store_nothing(
    client: FlaskClient, settings: Settings, conns: Connections, body: bytes, status: int
) -> None:
    """400 for a body that is not a JSON object, 422 for missing or invalid ids."""
    answer = client.post("/webhooks/userdb", data=body, headers=signed(settings, "userdb", body))
    assert answer.status_code == status
    assert set(answer.json) == {"error", "message"}
    assert _stored_nothing(conns)


def test_external_id_longer_than_255_characters_is_422(
    client: FlaskClient, settings: Settings, conns: Connections
) -> None:
    """External ids are 1-255 characters."""
    body = userdb_body("evt-long", "x" * 256)
    answer = client.post("/webhooks/userdb", data=body, headers=signed(settings, "userdb", body))
    assert answer.status_code == 422
    assert _stored_nothing(conns)


def test_invalid_payload_record_id_is_422(client: FlaskClient, conns: Connections) -> None:
    """A payload:<path> UUID of the wrong shape is refused before it can reach a URL."""
    body = b'{"type": "user.deleted", "data": {"id": "u", "zeeg_id": "../../people/x"}}'
    answer = client.post("/webhooks/std", data=body, headers=_std_headers(body))
    assert answer.status_code == 422
    assert _stored_nothing(conns)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Signature": ""},
        {"X-Signature": "sha256=" + "0" * 64},
        {"X-Signature": "sha256=zz"},
        {"X-Signature": "sha256=\u00e9\u00e9"},
    ],
)
def test_hmac_missing_or_bad_signature_is_401_and_stores_nothing(
    client: FlaskClient, conns: Connections, headers: dict[str, str]
) -> None:
    """No signature, an empty one, a wrong one or garbage: 401, nothing stored."""
    body = userdb_body("evt-x", "u-x")
    answer = client.post(
        "/webhooks/userdb", data=body, headers={"Content-Type": "application/json", **headers}
    )
    assert answer.status_code == 401
    assert answer.json["error"] == "invalid_signature"
    assert _stored_nothing(conns)


def test_hmac_signature_of_a_tampered_body_is_401(
    client: FlaskClient, settings: Settings, conns: Connections
) -> None:
    """The signature covers the raw bytes."""
    headers = signed(settings, "userdb", userdb_body("evt-t", "u-t"))
    tampered = userdb_body("evt-t", "someone-else")
    assert client.post("/webhooks/userdb", data=tampered, headers=headers).status_code == 401
    assert _stored_nothing(conns)


@pytest.mark.parametrize("skew", [-301, 301, -3600])
def test_standard_webhooks_timestamp_outside_tolerance_is_401(
    client: FlaskClient, conns: Connections, skew: int
) -> None:
    """Old and future timestamps beyond 300 s are refused, even with a valid signature."""
    headers = _std_headers(STD_BODY, ts=int(time.time()) + skew)
    assert client.post("/webhooks/std", data=STD_BODY, headers=headers).status_code == 401
    assert _stored_nothing(conns)


@pytest.mark.parametrize(
    "change",
    [
        {"webhook-signature": "v1,AAAA"},
        {"webhook-signature": "v1,not-base64!!"},
        {"webhook-signature": "v2,abc"},
        {"webhook-timestamp": "yesterday"},
        {"webhook-id": "other"},
    ],
)
def test_standard_webhooks_bad_headers_are_401(
    client: FlaskClient, conns: Connections, change: dict[str, str]
) -> None:
    """A wrong or malformed signature, timestamp or id: 401 and nothing stored."""
    headers = {**_std_headers(STD_BODY), **change}
    assert client.post("/webhooks/std", data=STD_BODY, headers=headers).status_code == 401
    assert _stored_nothing(conns)


def test_standard_webhooks_secret_rotation_accepts_either_secret(
    redis_server: RedisServer, conns: Connections
) -> None:
    """Two secret variables listed: an event signed with the old one still verifies."""
    from tests.helpers import default_sources, make_settings

    new = "whsec_" + "QkJCQkJCQkJCQkJCQkJCQkJCQkJC"
    table = default_sources()
    table["std"]["secret_env"] = ["CLERK_SECRET_NEW", "CLERK_SECRET"]
    settings = make_settings(sources_toml=table, env={"CLERK_SECRET_NEW": new})
    assert settings.sources["std"].secrets == (new, STD_SECRET)
    client = create_app(settings, redis=conns).test_client()
    assert (
        client.post("/webhooks/std", data=STD_BODY, headers=_std_headers(STD_BODY)).status_code
        == 202
    )


def test_unknown_source_is_404(client: FlaskClient, conns: Connections) -> None:
    """Only configured sources have a webhook URL."""
    answer = client.post("/webhooks/nope", data=b"{}", headers={"Content-Type": "application/json"})
    assert answer.status_code == 404 and answer.json["error"] == "unknown_source"


def test_body_over_the_limit_is_413(redis_server: RedisServer, conns: Connections) -> None:
    """intake.max_body_bytes bounds what is read."""
    from tests.helpers import make_settings

    settings = make_settings(intake={"max_body_bytes": 100})
    client = create_app(settings, redis=conns).test_client()
    body = userdb_body("evt-big", "u", padding="x" * 200)
    answer = client.post("/webhooks/userdb", data=body, headers=signed(settings, "userdb", body))
    assert answer.status_code == 413
    assert _stored_nothing(conns)


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", ""])
def test_body_that_is_not_json_content_is_415(
    client: FlaskClient, settings: Settings, conns: Connections, content_type: str
) -> None:
    """The content type must be JSON."""
    body = userdb_body("evt-ct", "u")
    headers = {**signed(settings, "userdb", body), "Content-Type": content_type}
    assert client.post("/webhooks/userdb", data=body, headers=headers).status_code == 415
    assert _stored_nothing(conns)


def test_redis_unavailable_is_503_and_nothing_is_stored(settings: Settings, tmp_path: Path) -> None:
    """With Redis down nothing is acknowledged; after it returns, nothing was written."""
    server = RedisServer(tmp_path / "down").start()
    down = connect(server.url)
    client = create_app(settings, redis=down).test_client()
    server.stop()
    body = userdb_body("evt-down", "u-down")
    answer = client.post("/webhooks/userdb", data=body, headers=signed(settings, "userdb", body))
    assert answer.status_code == 503
    assert answer.json["error"] == "store_unavailable"
    assert client.get("/readyz").status_code == 503
    server.start()
    assert connect(server.url).text.dbsize() == 0
    server.stop()


def test_error_bodies_never_echo_the_request_or_secrets(
    client: FlaskClient, settings: Settings
) -> None:
    """A refused request's answer does not contain its body or any secret."""
    body = (
        b'{"id": "evt", "type": "contact.deleted", "data": {"contact_id": "secret-marker\\u0001"}}'
    )
    answer = client.post("/webhooks/userdb", data=body, headers=signed(settings, "userdb", body))
    assert answer.status_code == 422
    assert b"secret-marker" not in answer.data and HMAC_SECRET.encode() not in answer.data


def test_webhook_over_real_http_is_accepted(live_url: str, settings: Settings) -> None:
    """The same path through a real HTTP server."""
    body = userdb_body("evt-http", "u-http")
    answer = requests.post(
        f"{live_url}/webhooks/userdb",
        data=body,
        headers=signed(settings, "userdb", body),
        timeout=5,
    )
    assert answer.status_code == 202


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"not json", "application/json", 400),
        (b"[]", "application/json", 400),
        (b'{"type": "user.deleted", "data": {}}', "application/json", 422),
        (STD_BODY, "text/plain", 415),
    ],
)
def test_standard_webhooks_source_statuses(
    client: FlaskClient, conns: Connections, body: bytes, content_type: str, status: int
) -> None:
    """400, 422 and 415 for a correctly signed standard-webhooks request."""
    headers = {**_std_headers(body), "Content-Type": content_type}
    assert client.post("/webhooks/std", data=body, headers=headers).status_code == status
    assert _stored_nothing(conns)


def test_standard_webhooks_body_over_the_limit_is_413(conns: Connections) -> None:
    """The body limit applies before verification, for every scheme."""
    from tests.helpers import make_settings

    client = create_app(make_settings(intake={"max_body_bytes": 10}), redis=conns).test_client()
    assert (
        client.post("/webhooks/std", data=STD_BODY, headers=_std_headers(STD_BODY)).status_code
        == 413
    )
    assert _stored_nothing(conns)


def test_redis_out_of_memory_is_503_and_the_transaction_stores_nothing(
    settings: Settings, tmp_path: Path
) -> None:
    """Under noeviction a full Redis refuses writes: 503, and no half-written event."""
    server = RedisServer(tmp_path / "full").start()
    full = connect(server.url)
    try:
        full.text.config_set("maxmemory-policy", "noeviction")
        full.text.set("ballast", "x" * 2_000_000)
        full.text.config_set("maxmemory", "1mb")
        client = create_app(settings, redis=full).test_client()
        body = userdb_body("evt-oom", "u-oom")
        answer = client.post(
            "/webhooks/userdb", data=body, headers=signed(settings, "userdb", body)
        )
        assert answer.status_code == 503
        assert answer.json["error"] == "store_unavailable"
        assert sorted(full.text.keys("*")) == ["ballast"]
    finally:
        server.stop()
