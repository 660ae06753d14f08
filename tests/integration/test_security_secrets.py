"""A secret is used whole: never split, never short, and ids come from the headers it signed."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

import pytest
import standardwebhooks
import stripe
import svix
from flask.testing import FlaskClient

from consumer.queue import erasure_queue
from consumer.store import events
from consumer.store.connection import Connections
from consumer.web import create_app
from tests.helpers import STD_SECRET, okta_body, okta_event, sender_settings, svix_headers, webhook

GITHUB_SECRET = "It's a Secret to Everybody"


# Okta's guide sets the hook's Authorization value to HTTP Basic credentials.
OKTA_BASIC = "Basic " + base64.b64encode(b"zeeg-consumer:okta-hook-password").decode()


def _client(conns: Connections, env: dict[str, str], **overrides: Any) -> FlaskClient:
    return create_app(sender_settings(env=env, **overrides), redis=conns).test_client()


def _jobs(conns: Connections) -> list[list[Any]]:
    return [list(job.args) for job in erasure_queue(conns.raw).jobs]


@pytest.mark.parametrize(
    "offered",
    [
        "Basic",
        "Basic ",
        OKTA_BASIC.split()[1],
        "Bearer " + OKTA_BASIC.split()[1],
        OKTA_BASIC[:-4],
        OKTA_BASIC + "x",
    ],
    ids=["scheme-word", "scheme-word-space", "credential-only", "bearer", "prefix", "longer"],
)
def test_a_part_of_an_okta_basic_value_is_401_and_the_whole_value_202(
    conns: Connections, offered: str
) -> None:
    """OKTA_TOKEN="Basic <b64>": `Authorization: Basic` or a part of it never passes."""
    client = _client(conns, {"OKTA_TOKEN": OKTA_BASIC})
    body = okta_body(okta_event("evt-okta-basic", "00u-basic"))
    refused = webhook(client, "okta", body, {"Authorization": offered})
    assert refused.status_code == 401, refused.json
    assert _jobs(conns) == []
    accepted = webhook(client, "okta", body, {"Authorization": OKTA_BASIC})
    assert accepted.status_code == 202, accepted.json
    assert _jobs(conns) == [["okta", "evt-okta-basic"]]


def test_the_scheme_word_of_a_basic_value_is_compared_case_insensitively(
    conns: Connections,
) -> None:
    """`basic <b64>` is the same credentials as `Basic <b64>` (RFC 9110 schemes are caseless)."""
    client = _client(conns, {"OKTA_TOKEN": OKTA_BASIC})
    body = okta_body(okta_event("evt-okta-case", "00u-case"))
    value = "basic  " + OKTA_BASIC.split()[1]
    assert webhook(client, "okta", body, {"Authorization": value}).status_code == 202


def _github(client: FlaskClient, key: bytes, delivery: str) -> Any:
    raw = json.dumps({"action": "deleted", "contact": {"id": "gh-c1"}}).encode()
    digest = hmac.new(key, raw, hashlib.sha256).hexdigest()
    headers = {"X-Hub-Signature-256": "sha256=" + digest, "X-GitHub-Delivery": delivery}
    return webhook(client, "github", raw, headers)


@pytest.mark.parametrize("word", GITHUB_SECRET.split())
def test_an_hmac_keyed_with_one_word_of_a_github_secret_is_401(
    conns: Connections, word: str
) -> None:
    """GITHUB_SECRET="It's a Secret to Everybody": one word of it is no key; the whole is."""
    client = _client(conns, {"GITHUB_SECRET": GITHUB_SECRET})
    answer = _github(client, word.encode(), "d-word")
    assert answer.status_code == 401, answer.json
    assert _jobs(conns) == []
    answer = _github(client, GITHUB_SECRET.encode(), "d-whole")
    assert answer.status_code == 202, answer.json
    assert _jobs(conns) == [["github", "d-whole"]]


def test_rotation_through_two_variables_accepts_both_secrets(conns: Connections) -> None:
    """secret_env = ["STRIPE_SECRET", "STRIPE_SECRET_OLD"]: deliveries signed by either are 202."""
    old, new = "whsec_old_rotation_secret", "whsec_new_rotation_secret"
    client = _client(
        conns,
        {"STRIPE_SECRET": new, "STRIPE_SECRET_OLD": old},
        stripe={"secret_env": ["STRIPE_SECRET", "STRIPE_SECRET_OLD"]},
    )
    for n, secret in enumerate((old, new)):
        body = {"id": f"evt_rot2_{n}", "type": "customer.deleted", "data": {"object": {"id": "c"}}}
        raw = json.dumps(body)
        header = stripe.WebhookSignature.generate_signature_header(raw, secret)
        answer = webhook(client, "stripe", raw.encode(), {"Stripe-Signature": header})
        assert answer.status_code == 202, answer.json
    header = stripe.WebhookSignature.generate_signature_header(raw, "whsec_neither_of_them_x")
    assert webhook(client, "stripe", raw.encode(), {"Stripe-Signature": header}).status_code == 401
    assert len(_jobs(conns)) == 2


def _svix_signed(msg_id: str, body: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(body)
    now = datetime.now(tz=UTC)
    headers = {
        "svix-id": msg_id,
        "svix-timestamp": str(int(now.timestamp())),
        "svix-signature": svix.Webhook(STD_SECRET).sign(msg_id, now, raw),
    }
    return raw.encode(), headers


def test_a_spoofed_webhook_id_beside_svix_headers_does_not_mint_new_events(
    conns: Connections,
) -> None:
    """One svix-signed request resent with fresh webhook-ids: one event, under the svix-id."""
    client = _client(conns, {})
    raw, headers = _svix_signed("msg_signed_1", {"type": "user.deleted", "data": {"id": "u-s1"}})
    statuses = []
    for n in range(3):
        answer = webhook(client, "stdhooks", raw, {**headers, "webhook-id": f"msg_forged_{n}"})
        assert answer.json["event_id"] == "msg_signed_1", answer.json
        statuses.append((answer.status_code, answer.json["status"]))
    assert statuses == [(202, "accepted"), (200, "duplicate"), (200, "duplicate")]
    assert _jobs(conns) == [["stdhooks", "msg_signed_1"]]
    assert events.load(conns.text, "stdhooks", "msg_forged_0") is None


def test_a_spoofed_svix_id_beside_webhook_headers_does_not_mint_new_events(
    conns: Connections,
) -> None:
    """Clerk reads header:svix-id: a forged svix-id next to a webhook-* signature is ignored."""
    client = _client(conns, {})
    raw = json.dumps({"type": "user.deleted", "data": {"id": "user_s2"}})
    sign = standardwebhooks.Webhook(STD_SECRET).sign
    headers = svix_headers(sign, "msg_signed_2", raw, "webhook")
    for n in range(3):
        answer = webhook(client, "clerk", raw.encode(), {**headers, "svix-id": f"msg_forged_{n}"})
        assert answer.json["event_id"] == "msg_signed_2", answer.json
    assert _jobs(conns) == [["clerk", "msg_signed_2"]]
