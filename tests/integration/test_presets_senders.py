"""Each preset: a body in the sender's documented shape, signed their way, becomes the right job."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, NamedTuple

import pytest
import standardwebhooks
import stripe
import svix
from flask.testing import FlaskClient

from consumer.queue import erasure_queue
from consumer.sources import workos
from consumer.sources.parse import derived_id
from consumer.store import events
from consumer.store.connection import Connections
from consumer.web import create_app
from tests.helpers import (
    SENDER_ENV,
    STD_SECRET,
    okta_body,
    okta_event,
    sender_settings,
    svix_headers,
    webhook,
)


def _job_args(conns: Connections) -> list[list[Any]]:
    return [list(job.args) for job in erasure_queue(conns.raw).jobs]


def _bearer_post(client: FlaskClient, source: str, payload: Any, token_env: str) -> Any:
    """POST `payload` as JSON to a bearer-token source with its configured token."""
    headers = {"Authorization": "Bearer " + SENDER_ENV[token_env]}
    return webhook(client, source, json.dumps(payload).encode(), headers)


def test_auth0_log_stream_array_makes_a_job_per_sdu_entry(
    sender_client: FlaskClient, conns: Connections
) -> None:
    """Auth0 log stream (JSON array): the sdu entry is accepted, the login entry ignored."""
    logs = [
        {
            "log_id": "90020231101",
            "data": {"date": "2023-11-01T10:00:00.000Z", "type": "s", "user_id": "auth0|aaa"},
        },
        {
            "log_id": "90020231102",
            "data": {
                "date": "2023-11-01T10:00:01.000Z",
                "type": "sdu",
                "description": "user_deleted",
                "user_id": "auth0|65f1c",
            },
        },
    ]
    answer = _bearer_post(sender_client, "auth0logs", logs, "AUTH0_TOKEN")
    assert answer.status_code == 202, answer.json
    assert [r["status"] for r in answer.json["results"]] == ["ignored", "accepted"]
    event = events.load(conns.text, "auth0logs", "90020231102")
    assert event is not None and event.external_id == "auth0|65f1c"
    assert _job_args(conns) == [["auth0logs", "90020231102"]]


def test_supabase_delete_gets_a_derived_event_id(
    sender_client: FlaskClient, conns: Connections
) -> None:
    """Supabase database webhook: old_record.id is the external id; the id is derived."""
    body = {
        "type": "DELETE",
        "table": "users",
        "schema": "public",
        "record": None,
        "old_record": {"id": 42, "email": "x@example.com"},
    }
    answer = _bearer_post(sender_client, "supabase", body, "SUPABASE_TOKEN")
    assert answer.status_code == 202, answer.json
    event_id = derived_id("supabase", body)
    assert answer.json["event_id"] == event_id
    event = events.load(conns.text, "supabase", event_id)
    assert event is not None and event.external_id == "42"
    assert _job_args(conns) == [["supabase", event_id]]


def _keycloak_signature(body: bytes) -> str:
    key = SENDER_ENV["KEYCLOAK_SECRET"].encode()
    return hmac.new(key, body, hashlib.sha256).hexdigest()


class Delivery(NamedTuple):
    """One sender's signed deletion and what it must store."""

    source: str
    raw: bytes
    headers: dict[str, str]
    event_id: str
    expected: dict[str, Any]  # attributes of the stored event


def _clerk() -> Delivery:
    """Clerk (svix-* headers, signed by the svix library): svix-id is the event id."""
    body = {
        "data": {"deleted": True, "id": "user_29w83sxmDNGwOuEthce5gg56FcC", "object": "user"},
        "object": "event",
        "timestamp": 1654012591835,
        "type": "user.deleted",
    }
    raw = json.dumps(body)
    headers = svix_headers(svix.Webhook(STD_SECRET).sign, "msg_clerk_1", raw, "svix")
    expected = {
        "external_id": "user_29w83sxmDNGwOuEthce5gg56FcC",
        "event_type": "user.deleted",
        "occurred_at": 1654012591.835,
    }
    return Delivery("clerk", raw.encode(), headers, "msg_clerk_1", expected)


def _standard_webhooks() -> Delivery:
    """standard-webhooks preset: webhook-* headers from the standardwebhooks library."""
    raw = json.dumps(
        {"type": "contact.deleted", "timestamp": "2024-05-01T10:00:00Z", "data": {"id": "c-77"}}
    )
    now = datetime.now(tz=UTC)
    hook = standardwebhooks.Webhook(STD_SECRET)
    headers = {
        "webhook-id": "msg_std_1",
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": hook.sign("msg_std_1", now, raw),
    }
    return Delivery("stdhooks", raw.encode(), headers, "msg_std_1", {"external_id": "c-77"})


def _stripe() -> Delivery:
    """Stripe: Stripe-Signature from the stripe library; data.object.id is the customer."""
    raw = json.dumps(
        {
            "id": "evt_1NG8Du2eZvKYlo2CUI79vXWy",
            "object": "event",
            "api_version": "2023-10-16",
            "created": 1686089970,
            "type": "customer.deleted",
            "data": {
                "object": {"id": "cus_NffrFeUfNV2Hib", "object": "customer", "email": "a@b.c"}
            },
        }
    )
    header = stripe.WebhookSignature.generate_signature_header(raw, SENDER_ENV["STRIPE_SECRET"])
    expected = {"external_id": "cus_NffrFeUfNV2Hib", "occurred_at": 1686089970.0}
    headers = {"Stripe-Signature": header}
    return Delivery("stripe", raw.encode(), headers, "evt_1NG8Du2eZvKYlo2CUI79vXWy", expected)


def _workos() -> Delivery:
    """WorkOS: WorkOS-Signature with a millisecond timestamp; dsync.user.deleted counts."""
    raw = json.dumps(
        {
            "id": "event_01H2GQD3S5ZT1Q1A5FCZ3X6Y8P",
            "event": "dsync.user.deleted",
            "data": {"id": "directory_user_01E1X1B89NH8Z3SDFJR4H7RGX7", "object": "directory_user"},
            "created_at": "2023-06-09T18:12:02.000Z",
        }
    ).encode()
    stamp = int(time.time() * 1000)
    header = workos.sign(SENDER_ENV["WORKOS_SECRET"], stamp, raw)
    expected = {
        "external_id": "directory_user_01E1X1B89NH8Z3SDFJR4H7RGX7",
        "event_type": "dsync.user.deleted",
    }
    headers = {"WorkOS-Signature": header}
    return Delivery("workos", raw, headers, "event_01H2GQD3S5ZT1Q1A5FCZ3X6Y8P", expected)


def _auth0_event_stream() -> Delivery:
    """Auth0 event stream: a CloudEvents user.deleted with a bearer token."""
    raw = json.dumps(
        {
            "specversion": "1.0",
            "type": "user.deleted",
            "source": "urn:auth0:example.eu.auth0.com",
            "id": "evt_6r4T2o3dGhgA1cq8C9dy4S",
            "time": "2024-10-21T10:00:00.000Z",
            "data": {"object": {"user_id": "auth0|6716", "email": "x@example.com"}},
        }
    ).encode()
    headers = {"Authorization": "Bearer " + SENDER_ENV["AUTH0_TOKEN"]}
    expected = {"external_id": "auth0|6716"}
    return Delivery("auth0events", raw, headers, "evt_6r4T2o3dGhgA1cq8C9dy4S", expected)


def _okta() -> Delivery:
    """Okta: data.events[] with the static Authorization value; target[0].id is the user."""
    body = okta_body(okta_event("1ec7b2b5-0001", "00u1abcd"))
    headers = {"Authorization": SENDER_ENV["OKTA_TOKEN"]}
    return Delivery("okta", body, headers, "1ec7b2b5-0001", {"external_id": "00u1abcd"})


def _keycloak_admin() -> Delivery:
    """Keycloak (keycloak-events): X-Keycloak-Signature; the user id follows users/."""
    raw = json.dumps(
        {
            "uid": "d2e0fe26-f8e6-4012-b22f-87f989c3c9e7",
            "time": 1711651627565,
            "realmId": "7a11ef96-d5ef-4bfe-beb8-a5d81f9de464",
            "authDetails": {"realmId": "master", "userId": "a1"},
            "resourceType": "USER",
            "operationType": "DELETE",
            "resourcePath": "users/88251cc6-7408-4b31-a4c7-b2840d99b916",
            "type": "admin.USER-DELETE",
        }
    ).encode()
    headers = {"X-Keycloak-Signature": _keycloak_signature(raw)}
    expected = {
        "external_id": "88251cc6-7408-4b31-a4c7-b2840d99b916",
        "occurred_at": 1711651627.565,
    }
    return Delivery("keycloak", raw, headers, "d2e0fe26-f8e6-4012-b22f-87f989c3c9e7", expected)


def _github_style() -> Delivery:
    """github-style: X-Hub-Signature-256 (sha256=hex); X-GitHub-Delivery is the event id."""
    raw = json.dumps({"action": "deleted", "contact": {"id": "ct-5"}}).encode()
    digest = hmac.new(SENDER_ENV["GITHUB_SECRET"].encode(), raw, hashlib.sha256).hexdigest()
    headers = {
        "X-Hub-Signature-256": "sha256=" + digest,
        "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
    }
    event_id = "72d3162e-cc78-11e3-81ab-4c9367dc0958"
    return Delivery("github", raw, headers, event_id, {"external_id": "ct-5"})


def _keycloak_self_service() -> Delivery:
    """access.DELETE_ACCOUNT (Account Console): the user id is authDetails.userId, no prefix."""
    raw = json.dumps(
        {
            "uid": "5b0c3f4e-7d1a-4c2b-9a6e-1f2e3d4c5b6a",
            "type": "access.DELETE_ACCOUNT",
            "time": 1711651700000,
            "realmId": "7a11ef96-d5ef-4bfe-beb8-a5d81f9de464",
            "authDetails": {
                "realmId": "myrealm",
                "clientId": "account-console",
                "userId": "3f1d8a52-1c2e-4f0b-8d7a-6c5b4a392817",
            },
            "details": {},
        }
    ).encode()
    headers = {"X-Keycloak-Signature": _keycloak_signature(raw)}
    expected = {
        "external_id": "3f1d8a52-1c2e-4f0b-8d7a-6c5b4a392817",
        "event_type": "access.DELETE_ACCOUNT",
    }
    return Delivery("keycloak", raw, headers, "5b0c3f4e-7d1a-4c2b-9a6e-1f2e3d4c5b6a", expected)


SENDERS = [
    _clerk,
    _standard_webhooks,
    _stripe,
    _workos,
    _auth0_event_stream,
    _okta,
    _keycloak_admin,
    _github_style,
    _keycloak_self_service,
]


@pytest.mark.parametrize("build", SENDERS, ids=[b.__name__.lstrip("_") for b in SENDERS])
def test_a_deletion_signed_the_senders_way_is_one_job(
    sender_client: FlaskClient, conns: Connections, build: Callable[[], Delivery]
) -> None:
    """Each sender (see its builder): 202, the event stored as expected, one job for it."""
    delivery = build()
    answer = webhook(sender_client, delivery.source, delivery.raw, delivery.headers)
    assert answer.status_code == 202, answer.json
    event = events.load(conns.text, delivery.source, delivery.event_id)
    assert event is not None
    assert {name: getattr(event, name) for name in delivery.expected} == delivery.expected
    assert _job_args(conns) == [[delivery.source, delivery.event_id]]


def test_unsigned_source_accepts_without_a_signature(
    sender_client: FlaskClient, conns: Connections
) -> None:
    """scheme none with insecure_allow_unsigned = true: accepted without any header."""
    raw = json.dumps({"id": "u-evt-1", "type": "contact.deleted", "data": {"id": "c-1"}})
    answer = webhook(sender_client, "unsigned", raw.encode(), {})
    assert answer.status_code == 202, answer.json
    assert _job_args(conns) == [["unsigned", "u-evt-1"]]


def test_both_secrets_of_a_rotation_are_accepted_over_http(conns: Connections) -> None:
    """STRIPE_SECRET and STRIPE_SECRET_OLD listed: deliveries signed with either are 202."""
    old, new = "whsec_old_rotation_one", "whsec_new_rotation_one"
    settings = sender_settings(
        env={"STRIPE_SECRET": new, "STRIPE_SECRET_OLD": old},
        stripe={"secret_env": ["STRIPE_SECRET", "STRIPE_SECRET_OLD"]},
    )
    client = create_app(settings, redis=conns).test_client()
    for n, secret in enumerate((old, new)):
        raw = json.dumps(
            {
                "id": f"evt_rot_{n}",
                "type": "customer.deleted",
                "data": {"object": {"id": f"cus_{n}"}},
            }
        )
        header = stripe.WebhookSignature.generate_signature_header(raw, secret)
        answer = webhook(client, "stripe", raw.encode(), {"Stripe-Signature": header})
        assert answer.status_code == 202, (secret, answer.json)
    assert len(_job_args(conns)) == 2


def test_clerk_preset_reads_the_event_id_from_webhook_headers_too(
    sender_client: FlaskClient, conns: Connections
) -> None:
    """A Svix sender using the unbranded webhook-* headers: verified, and webhook-id is the id."""
    raw = json.dumps({"type": "user.deleted", "data": {"id": "user_2abc", "deleted": True}})
    now = datetime.now(tz=UTC)
    headers = {
        "webhook-id": "msg_clerk_2",
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": svix.Webhook(STD_SECRET).sign("msg_clerk_2", now, raw),
    }
    answer = webhook(sender_client, "clerk", raw.encode(), headers)
    assert answer.status_code == 202, answer.json
    assert _job_args(conns) == [["clerk", "msg_clerk_2"]]


def test_okta_takes_the_user_target_wherever_it_stands(
    sender_client: FlaskClient, conns: Connections
) -> None:
    """Okta's target list has no promised order: the User entry is the user, not target[0]."""
    event = okta_event("1ec7b2b5-0002", "00uREAL")
    event["target"].insert(0, {"id": "0ua1appuser", "type": "AppUser", "alternateId": "x"})
    answer = webhook(
        sender_client, "okta", okta_body(event), {"Authorization": SENDER_ENV["OKTA_TOKEN"]}
    )
    assert answer.status_code == 202, answer.json
    stored = events.load(conns.text, "okta", "1ec7b2b5-0002")
    assert stored is not None and stored.external_id == "00uREAL"


def test_okta_event_without_a_user_target_is_422_and_not_stored(
    sender_client: FlaskClient, conns: Connections
) -> None:
    """No target of type User: the external id is missing, a 422, and nothing is queued."""
    event = okta_event("1ec7b2b5-0003", "00uX")
    event["target"] = [{"id": "0oa1app", "type": "AppInstance"}]
    answer = webhook(
        sender_client, "okta", okta_body(event), {"Authorization": SENDER_ENV["OKTA_TOKEN"]}
    )
    assert answer.status_code == 422, answer.json
    (result,) = answer.json["results"]
    assert (result["status"], result["error"]) == ("invalid", "invalid_field")
    assert result["message"].startswith("target[type=User].id: ")
    assert events.load(conns.text, "okta", "1ec7b2b5-0003") is None
    assert _job_args(conns) == []


def test_keycloak_admin_delete_still_reads_the_resource_path_not_the_admin(
    sender_client: FlaskClient, conns: Connections
) -> None:
    """admin.USER-DELETE keeps resourcePath: authDetails.userId there is the admin who deleted."""
    raw = json.dumps(
        {
            "uid": "a0000000-0000-4000-8000-000000000001",
            "type": "admin.USER-DELETE",
            "time": 1711651627565,
            "authDetails": {"realmId": "master", "userId": "admin-0001"},
            "resourcePath": "users/user-0001",
        }
    ).encode()
    answer = webhook(
        sender_client, "keycloak", raw, {"X-Keycloak-Signature": _keycloak_signature(raw)}
    )
    assert answer.status_code == 202, answer.json
    event = events.load(conns.text, "keycloak", "a0000000-0000-4000-8000-000000000001")
    assert event is not None and event.external_id == "user-0001"
