"""The negative matrix: for every scheme each bad request gets its SPEC 4 status, stores nothing."""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Any

import pytest
from flask.testing import FlaskClient

from consumer import sources
from consumer.queue import erasure_queue
from consumer.settings import SourceConfig
from consumer.sources.testevent import build_event
from consumer.store.connection import Connections
from tests.helpers import sender_settings, stored_keys, webhook

# One source per scheme (from tests.helpers.sender_sources).
BY_SCHEME = {
    "standard-webhooks": "stdhooks",
    "stripe": "stripe",
    "workos": "workos",
    "hmac-sha256": "keycloak",
    "token": "auth0events",
    "none": "unsigned",
}
SIGNED = [s for s in BY_SCHEME if s != "none"]
TIMESTAMPED = ["standard-webhooks", "stripe", "workos"]
BODY_SIGNED = [s for s in SIGNED if s != "token"]  # a static token does not cover the body

MALFORMED: dict[str, list[dict[str, str]]] = {
    "standard-webhooks": [
        {"webhook-id": "m1", "webhook-timestamp": "soon", "webhook-signature": "v1,AAAA"},
        {"webhook-id": "m1", "webhook-timestamp": "\u00b2", "webhook-signature": "v1,AAAA"},
        {"webhook-id": "m1", "webhook-timestamp": "9" * 400, "webhook-signature": "v1,AAAA"},
        {"webhook-id": "m1", "webhook-timestamp": "{now}", "webhook-signature": "v2,AAAA"},
        {"webhook-id": "m1", "webhook-timestamp": "{now}", "webhook-signature": "v1,\u00e9\u00e9"},
    ],
    "stripe": [
        {"Stripe-Signature": "t=abc,v1=00"},
        {"Stripe-Signature": "v1=00ff"},
        {"Stripe-Signature": "t={now},t={now},v1=00"},
        {"Stripe-Signature": "t={now}"},
        {"Stripe-Signature": "t=99999999999999999999999,v1=00"},
        {"Stripe-Signature": "garbage"},
    ],
    "workos": [
        {"WorkOS-Signature": "t=, v1="},
        {"WorkOS-Signature": "v1=abc"},
        {"WorkOS-Signature": "t={now}000"},
        {"WorkOS-Signature": "t=-5, v1=00"},
        {"WorkOS-Signature": "t=" + "9" * 400 + ", v1=00"},
    ],
    "hmac-sha256": [
        {"X-Keycloak-Signature": "sha256=" + "z" * 64},
        {"X-Keycloak-Signature": "not a digest"},
        {"X-Keycloak-Signature": "sha256="},
        {"X-Keycloak-Signature": "\u00e9" * 64},
    ],
    "token": [
        {"Authorization": "Bearer "},
        {"Authorization": "Basic YWxhZGRpbjpvcGVuc2VzYW1l"},
        {"Authorization": "Bearer auth0-test-token-and-more"},
        {"Authorization": "\u00e9auth0-test-token"},
    ],
}


@pytest.fixture
def client(sender_client: FlaskClient) -> FlaskClient:
    return sender_client


def _source(scheme: str) -> SourceConfig:
    return sender_settings().sources[BY_SCHEME[scheme]]


def _body(src: SourceConfig, external_id: str = "ext-1") -> bytes:
    return json.dumps(build_event(src, "evt-neg-1", external_id, int(time.time()))).encode()


def _source_and_body(scheme: str) -> tuple[SourceConfig, bytes]:
    """The scheme's source and a fresh deletion body for it."""
    src = _source(scheme)
    return src, _body(src)


def _headers(src: SourceConfig, body: bytes, at: float | None = None, **replace: Any) -> Any:
    signer = dataclasses.replace(src, **replace) if replace else src
    when = int(time.time() if at is None else at)
    return {"Content-Type": "application/json", **sources.sign_headers(signer, body, "m1", when)}


def _assert_rejected(answer: Any, conns: Connections) -> None:
    """The request was refused with 401 and left nothing behind."""
    assert answer.status_code == 401
    _assert_nothing_stored(conns)


def _assert_nothing_stored(conns: Connections) -> None:
    assert stored_keys(conns) == []
    assert len(erasure_queue(conns.raw)) == 0


@pytest.mark.parametrize("scheme", list(BY_SCHEME))
def test_a_correctly_signed_request_is_accepted(
    client: FlaskClient, conns: Connections, scheme: str
) -> None:
    """The control row: the signing the matrix starts from is accepted (202)."""
    src, body = _source_and_body(scheme)
    answer = webhook(client, src.name, body, _headers(src, body))
    assert answer.status_code == 202, answer.json
    assert len(erasure_queue(conns.raw)) == 1


@pytest.mark.parametrize("scheme", SIGNED)
def test_wrong_secret_is_401_and_stores_nothing(
    client: FlaskClient, conns: Connections, scheme: str
) -> None:
    """Signed with a secret the source does not hold: 401."""
    src, body = _source_and_body(scheme)
    answer = webhook(client, src.name, body, _headers(src, body, secrets=("not-the-secret",)))
    assert answer.status_code == 401
    assert answer.json["error"] == "invalid_signature"
    _assert_nothing_stored(conns)


@pytest.mark.parametrize("scheme", BODY_SIGNED)
def test_tampered_body_is_401_and_stores_nothing(
    client: FlaskClient, conns: Connections, scheme: str
) -> None:
    """The body changed after signing (another external id): 401."""
    src = _source(scheme)
    headers = _headers(src, _body(src, "ext-1"))
    answer = webhook(client, src.name, _body(src, "ext-2"), headers)
    _assert_rejected(answer, conns)


@pytest.mark.parametrize("offset", [-1, 1], ids=["old", "future"])
@pytest.mark.parametrize("scheme", TIMESTAMPED)
def test_timestamp_outside_tolerance_is_401_and_stores_nothing(
    client: FlaskClient, conns: Connections, scheme: str, offset: int
) -> None:
    """Signed tolerance + 5 s in the past or the future: 401."""
    src, body = _source_and_body(scheme)
    at = time.time() + offset * (src.tolerance_seconds + 5)
    answer = webhook(client, src.name, body, _headers(src, body, at=at))
    _assert_rejected(answer, conns)


@pytest.mark.parametrize("scheme", SIGNED)
def test_missing_signature_headers_are_401_and_store_nothing(
    client: FlaskClient, conns: Connections, scheme: str
) -> None:
    """No signature header at all: 401."""
    src, body = _source_and_body(scheme)
    answer = webhook(client, src.name, body, {"Content-Type": "application/json"})
    _assert_rejected(answer, conns)


@pytest.mark.parametrize(("scheme", "bad"), [(s, h) for s, rows in MALFORMED.items() for h in rows])
def test_malformed_signature_headers_are_401_and_store_nothing(
    client: FlaskClient, conns: Connections, scheme: str, bad: dict[str, str]
) -> None:
    """Unparseable timestamps, unknown versions, non-hex digests, foreign auth: 401."""
    src, body = _source_and_body(scheme)
    now = str(int(time.time()))
    headers = {k: v.replace("{now}", now) for k, v in bad.items()}
    encoded = {k: v.encode("utf-8").decode("latin-1") for k, v in headers.items()}
    answer = webhook(client, src.name, body, {"Content-Type": "application/json", **encoded})
    _assert_rejected(answer, conns)


@pytest.mark.parametrize(
    ("body", "why"), [(b"", "empty"), (b"\xff\xfe{\x00}", "not utf-8"), (b"[1, 2]", "array")]
)
@pytest.mark.parametrize("scheme", list(BY_SCHEME))
def test_signed_body_that_is_not_a_json_object_is_400_and_stores_nothing(
    client: FlaskClient, conns: Connections, scheme: str, body: bytes, why: str
) -> None:
    """Correctly signed, but empty, not UTF-8, or not an object: 400."""
    src = _source(scheme)
    answer = webhook(client, src.name, body, _headers(src, body))
    assert answer.status_code == 400, why
    assert answer.json["error"] == "invalid_body"
    _assert_nothing_stored(conns)


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
@pytest.mark.parametrize("scheme", list(BY_SCHEME))
def test_wrong_content_type_is_415_and_stores_nothing(
    client: FlaskClient, conns: Connections, scheme: str, content_type: str | None
) -> None:
    """Correctly signed JSON sent as another media type (or none): 415."""
    src, body = _source_and_body(scheme)
    headers = _headers(src, body)
    del headers["Content-Type"]
    if content_type:
        headers["Content-Type"] = content_type
    answer = webhook(client, src.name, body, headers, content_type=None)
    assert answer.status_code == 415
    _assert_nothing_stored(conns)


@pytest.mark.parametrize("scheme", list(BY_SCHEME))
def test_signed_event_without_external_id_is_422_and_stores_nothing(
    client: FlaskClient, conns: Connections, scheme: str
) -> None:
    """A deletion whose external id is missing: 422."""
    src = _source(scheme)
    event = build_event(src, "evt-neg-2", "x", int(time.time()))
    body = json.dumps(_drop(event, src.external_id)).encode()
    answer = webhook(client, src.name, body, _headers(src, body))
    assert answer.status_code == 422
    assert answer.json["error"] == "invalid_field"
    _assert_nothing_stored(conns)


def _drop(event: Any, path: str) -> Any:
    *parents, last = path.split(".")
    node = event
    for step in parents:
        node = node[int(step)] if isinstance(node, list) else node[step]
    del node[last]
    return event
