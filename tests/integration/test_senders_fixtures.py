"""Each sender's published sample (tests/fixtures/senders), signed as it signs, over real HTTP.

The expected ids are read by hand from each sample (see tests/fixtures/senders/README.md), not
computed by our own field paths: a preset that reads the wrong field fails here.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
import standardwebhooks
import stripe
import svix
from flask import Flask
from workos.webhooks import _verification as workos_verification

from consumer.sources import workos
from consumer.store import events
from consumer.store.connection import Connections
from consumer.web import create_app
from tests.helpers import STD_SECRET, sender_settings

FIXTURES = Path(__file__).parents[1] / "fixtures" / "senders"

# Secrets of at least 16 bytes, one per variable.
ENV = {
    "CLERK_SECRET": STD_SECRET,
    "STRIPE_SECRET": "whsec_fixture_stripe_secret_0001",
    "WORKOS_SECRET": "workos-fixture-secret-0001",
    "AUTH0_TOKEN": "auth0-fixture-token-0001",
    "OKTA_TOKEN": "okta-fixture-authorization-0001",
    "SUPABASE_TOKEN": "supabase-fixture-token-0001",
    "KEYCLOAK_SECRET": "keycloak-fixture-secret-0001",
    "GITHUB_SECRET": "github-fixture-secret-0001",
}

Signer = Callable[[bytes], dict[str, str]]


def _signed_by(library: Any, prefix: str, msg_id: str) -> Signer:
    """<prefix>-id, -timestamp and -signature headers from library (svix and standardwebhooks)."""

    def sign(raw: bytes) -> dict[str, str]:
        now = datetime.now(tz=UTC)
        signature = library.Webhook(STD_SECRET).sign(msg_id, now, raw.decode())
        stamp = str(int(now.timestamp()))
        return {
            f"{prefix}-id": msg_id,
            f"{prefix}-timestamp": stamp,
            f"{prefix}-signature": signature,
        }

    return sign


def _standard(msg_id: str) -> Signer:
    return _signed_by(standardwebhooks, "webhook", msg_id)


def _svix(msg_id: str) -> Signer:
    return _signed_by(svix, "svix", msg_id)


def _stripe(raw: bytes) -> dict[str, str]:
    header = stripe.WebhookSignature.generate_signature_header(raw.decode(), ENV["STRIPE_SECRET"])
    return {"Stripe-Signature": header}


def _workos(raw: bytes) -> dict[str, str]:
    header = workos.sign(ENV["WORKOS_SECRET"], int(time.time() * 1000), raw)
    # The official library must accept the header too: it is WorkOS's format, not only ours.
    workos_verification.verify_header(
        event_body=raw, event_signature=header, secret=ENV["WORKOS_SECRET"]
    )
    return {"WorkOS-Signature": header}


def _header(name: str, value: str) -> Signer:
    return lambda raw: {name: value}


def _hex_hmac(name: str, secret: str, prefix: str = "") -> Signer:
    def sign(raw: bytes) -> dict[str, str]:
        return {name: prefix + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()}

    return sign


@dataclass(frozen=True)
class Case:
    """One published sample: where it is, which source takes it, and what it must store."""

    fixture: str
    source: str
    sign: Signer
    event_id: str
    external_id: str
    event_type: str


CASES = [
    Case(
        "standard-webhooks/contact-deleted.json",
        "stdhooks",
        _standard("msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"),
        "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W",
        "1f81eb52-5198-4599-803e-771906343485",
        "contact.deleted",
    ),
    Case(
        "clerk/user-deleted.json",
        "clerk",
        _svix("msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"),
        "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W",
        "user_29wBMCtzATuFJut8jO2VNTVekS4",
        "user.deleted",
    ),
    Case(
        "stripe/customer-deleted.json",
        "stripe",
        _stripe,
        "evt_1Pgc76B7WZ01zgkWwyRHS12y",
        "cus_QXg1o8vcGmoR32",
        "customer.deleted",
    ),
    Case(
        "workos/user-deleted.json",
        "workos",
        _workos,
        "event_01EHZNVPK3SFK441A1RGBFSHRT",
        "user_01E4ZCR3C56J083X43JQXF3JK5",
        "user.deleted",
    ),
    Case(
        "workos/dsync-user-deleted.json",
        "workos",
        _workos,
        "event_01EHZNVPK3SFK441A1RGBFSHRT",
        "directory_user_01E1JG7J09H96KYP8HM9B0G5SJ",
        "dsync.user.deleted",
    ),
    Case(
        "auth0-log-stream/json-array-with-sdu.json",
        "auth0logs",
        # Auth0 sends the stream's "Authorization Token" setting as the header, verbatim.
        _header("Authorization", ENV["AUTH0_TOKEN"]),
        "90020211104001430299115418365351830745472004626724159538",
        "auth0|6181ce2b0f293a006d158194",
        "sdu",
    ),
    Case(
        "auth0-event-stream/user-deleted.json",
        "auth0events",
        _header("Authorization", "Bearer " + ENV["AUTH0_TOKEN"]),
        "evt_1234567890abcdef",
        "auth0|1234567890abcdef",
        "user.deleted",
    ),
    Case(
        "okta/user-lifecycle-delete-initiated.json",
        "okta",
        _header("Authorization", ENV["OKTA_TOKEN"]),
        "ab62c0bc-2837-11eb-9823-9fb8f750c5a9",
        "00u3m90rxKjGQ0G6L1d6",
        "user.lifecycle.delete.initiated",
    ),
    Case(
        "supabase/delete.json",
        "supabase",
        _header("Authorization", "Bearer " + ENV["SUPABASE_TOKEN"]),
        # sha256 of "supabase\n" + the sample's canonical JSON (README: how it was computed).
        "sha256-37d06ed993dc0a77d5a0cdb8fc705c393ce379f732548b106f96bf3ac77dec3e",
        "2f0d3a4e-8a51-4b8e-9d6e-1c2b3a4d5e6f",
        "DELETE",
    ),
    Case(
        "keycloak/admin-user-delete.json",
        "keycloak",
        _hex_hmac("X-Keycloak-Signature", ENV["KEYCLOAK_SECRET"]),
        "8f2b7c1e-4d3a-4e5f-9a6b-0c1d2e3f4a5b",
        "88251cc6-7408-4b31-a4c7-b2840d99b916",
        "admin.USER-DELETE",
    ),
    Case(
        "keycloak/access-delete-account.json",
        "keycloak",
        _hex_hmac("X-Keycloak-Signature", ENV["KEYCLOAK_SECRET"]),
        "5b0c3f4e-7d1a-4c2b-9a6e-1f2e3d4c5b6a",
        "3f1d8a52-1c2e-4f0b-8d7a-6c5b4a392817",
        "access.DELETE_ACCOUNT",
    ),
]


@pytest.fixture
def app(conns: Connections) -> Flask:
    """The real app with one source per preset (the live_url fixture serves it over HTTP)."""
    return create_app(sender_settings(env=ENV), redis=conns)


@pytest.mark.parametrize("case", CASES, ids=[c.fixture for c in CASES])
def test_published_sample_is_stored_with_the_senders_ids(
    case: Case, live_url: str, conns: Connections
) -> None:
    """The sample, signed the sender's way, is accepted and stored under the ids it carries."""
    raw = (FIXTURES / case.fixture).read_bytes()
    headers = {"Content-Type": "application/json", **case.sign(raw)}
    answer = requests.post(
        f"{live_url}/webhooks/{case.source}", data=raw, headers=headers, timeout=10
    )
    assert answer.status_code == 202, answer.text
    stored = events.load(conns.text, case.source, case.event_id)
    assert stored is not None, f"no event {case.event_id!r} stored for {case.source}"
    assert (stored.event_id, stored.external_id, stored.event_type) == (
        case.event_id,
        case.external_id,
        case.event_type,
    )


def test_auth0_log_stream_sample_ignores_the_entry_that_is_not_a_deletion(
    live_url: str, conns: Connections
) -> None:
    """The sample's first log is a sapi (management API) entry: ignored, not stored."""
    raw = (FIXTURES / "auth0-log-stream/json-array-with-sdu.json").read_bytes()
    headers = {"Content-Type": "application/json", "Authorization": ENV["AUTH0_TOKEN"]}
    answer = requests.post(f"{live_url}/webhooks/auth0logs", data=raw, headers=headers, timeout=10)
    assert [r["status"] for r in answer.json()["results"]] == ["ignored", "accepted"]
    ignored = "90020211104001144643223441133851203963552710102024716354"
    assert events.load(conns.text, "auth0logs", ignored) is None


def test_github_style_matches_githubs_published_signature_test_vector(
    conns: Connections,
) -> None:
    """GitHub's documented vector ("Hello, World!"): the signature passes, the body is not JSON.

    A 400 (not JSON) rather than a 401 proves the sha256= header verified.
    """
    secret = "It's a Secret to Everybody"
    settings = sender_settings(env={**ENV, "GITHUB_SECRET": secret})
    client = create_app(settings, redis=conns).test_client()
    answer = client.post(
        "/webhooks/github",
        data=b"Hello, World!",
        headers={
            "Content-Type": "application/json",
            "X-Hub-Signature-256": (
                "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
            ),
            "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
        },
    )
    assert answer.status_code == 400, answer.json
    assert answer.json["error"] != "invalid_signature"


def test_github_style_delivery_is_stored_under_the_delivery_header(
    live_url: str, conns: Connections
) -> None:
    """github-style: X-Hub-Signature-256 over the body; X-GitHub-Delivery is the event id."""
    raw = (FIXTURES / "github-style/contact-deleted.json").read_bytes()
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
        **_hex_hmac("X-Hub-Signature-256", ENV["GITHUB_SECRET"], "sha256=")(raw),
    }
    answer = requests.post(f"{live_url}/webhooks/github", data=raw, headers=headers, timeout=10)
    assert answer.status_code == 202, answer.text
    stored = events.load(conns.text, "github", "72d3162e-cc78-11e3-81ab-4c9367dc0958")
    assert stored is not None and stored.external_id == "ct-5"


_OKTA_VALUE = "Basic YWRtaW46c3VwZXJzZWNyZXQ="


def _post_okta_with(conns: Connections, token: str, authorization: str) -> Any:
    """POST Okta's delete fixture to an app whose OKTA_TOKEN is `token`."""
    client = create_app(sender_settings(env={**ENV, "OKTA_TOKEN": token}), redis=conns)
    raw = (FIXTURES / "okta/user-lifecycle-delete-initiated.json").read_bytes()
    return client.test_client().post(
        "/webhooks/okta",
        data=raw,
        headers={"Content-Type": "application/json", "Authorization": authorization},
    )


def test_okta_documented_authorization_value_with_a_space_is_accepted(
    conns: Connections,
) -> None:
    """Okta's guide configures `Basic YWRtaW46c3VwZXJzZWNyZXQ=`: sent verbatim, it must pass."""
    answer = _post_okta_with(conns, _OKTA_VALUE, _OKTA_VALUE)
    assert answer.status_code == 202, answer.json


def test_okta_documented_value_does_not_let_its_first_word_through(conns: Connections) -> None:
    """OKTA_TOKEN = "Basic <base64>": a request sending only "Authorization: Basic" is a 401."""
    answer = _post_okta_with(conns, _OKTA_VALUE, "Basic")
    assert answer.status_code == 401, answer.json
