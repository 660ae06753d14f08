"""A secret is used whole: never split, never short, and ids come from the headers it signed."""

from __future__ import annotations

import base64
import dataclasses
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

from consumer import sources
from consumer.errors import ConfigError, SignatureError
from consumer.queue import erasure_queue
from consumer.sources import token
from consumer.store import events
from consumer.store.connection import Connections
from consumer.web import create_app
from tests.helpers import STD_SECRET, okta_body, okta_event, sender_settings

JSON = {"Content-Type": "application/json"}
# Okta's guide sets the hook's Authorization value to HTTP Basic credentials.
OKTA_BASIC = "Basic " + base64.b64encode(b"zeeg-consumer:okta-hook-password").decode()
# The secret of GitHub's "Validating webhook deliveries" page, and its test vector.
GITHUB_SECRET = "It's a Secret to Everybody"
GITHUB_VECTOR = "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"


def _client(conns: Connections, env: dict[str, str], **overrides: Any) -> FlaskClient:
    return create_app(sender_settings(env=env, **overrides), redis=conns).test_client()


def _post(client: FlaskClient, source: str, body: bytes, headers: dict[str, str]) -> Any:
    return client.post(f"/webhooks/{source}", data=body, headers={**JSON, **headers})


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
    refused = _post(client, "okta", body, {"Authorization": offered})
    assert refused.status_code == 401, refused.json
    assert _jobs(conns) == []
    accepted = _post(client, "okta", body, {"Authorization": OKTA_BASIC})
    assert accepted.status_code == 202, accepted.json
    assert _jobs(conns) == [["okta", "evt-okta-basic"]]


def test_the_scheme_word_of_a_basic_value_is_compared_case_insensitively(
    conns: Connections,
) -> None:
    """`basic <b64>` is the same credentials as `Basic <b64>` (RFC 9110 schemes are caseless)."""
    client = _client(conns, {"OKTA_TOKEN": OKTA_BASIC})
    body = okta_body(okta_event("evt-okta-case", "00u-case"))
    value = "basic  " + OKTA_BASIC.split()[1]
    assert _post(client, "okta", body, {"Authorization": value}).status_code == 202


def _github(client: FlaskClient, key: bytes, delivery: str) -> Any:
    raw = json.dumps({"action": "deleted", "contact": {"id": "gh-c1"}}).encode()
    digest = hmac.new(key, raw, hashlib.sha256).hexdigest()
    headers = {"X-Hub-Signature-256": "sha256=" + digest, "X-GitHub-Delivery": delivery}
    return _post(client, "github", raw, headers)


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


def test_our_hmac_signer_matches_githubs_documented_test_vector() -> None:
    """GitHub's docs: that secret over "Hello, World!" is sha256=7571…3e17."""
    from consumer.sources import hmac_sha256

    assert hmac_sha256.sign(GITHUB_SECRET, b"Hello, World!") == "sha256=" + GITHUB_VECTOR


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("okta", "fifteen-bytes!!"),
        ("okta", "Basic " + base64.b64encode(b"short12").decode()),
        ("github", "q9Zx2"),
        ("stripe", "whsec_shortsec"),
        ("clerk", "whsec_" + base64.b64encode(b"fifteen-bytes!!").decode()),
    ],
    ids=["token-15", "basic-short-credential", "hmac-5", "stripe-14", "standard-15-byte-key"],
)
def test_a_secret_shorter_than_16_bytes_fails_config_load(name: str, value: str) -> None:
    """The error names the source and the variable, never the value."""
    var = {"okta": "OKTA_TOKEN", "github": "GITHUB_SECRET", "stripe": "STRIPE_SECRET"}
    variable = var.get(name, "CLERK_SECRET")
    with pytest.raises(ConfigError) as caught:
        sender_settings(env={variable: value})
    message = str(caught.value)
    assert f"[sources.{name}] secret_env" in message and variable in message
    assert "16 bytes" in message
    assert value not in message


def test_a_16_byte_secret_is_enough() -> None:
    """The minimum is inclusive: 16 bytes load."""
    settings = sender_settings(env={"GITHUB_SECRET": "sixteen-bytes-ok"})
    assert settings.sources["github"].secrets == ("sixteen-bytes-ok",)


@pytest.mark.parametrize(
    "value", ["whsec_old_one_123 whsec_new_one_456", "whsec_a_1234567890,whsec_b_1234567890"]
)
def test_a_stripe_variable_holding_two_secrets_fails_with_the_upgrade_hint(value: str) -> None:
    """Secrets of the old space/comma rotation syntax are refused, not silently joined."""
    with pytest.raises(ConfigError, match="own variable") as caught:
        sender_settings(env={"STRIPE_SECRET": value})
    assert value not in str(caught.value) and "STRIPE_SECRET" in str(caught.value)


def test_a_string_secret_env_is_one_variable_holding_one_secret_whole() -> None:
    """Spaces belong to the secret: GitHub's example secret stays one secret."""
    settings = sender_settings(env={"GITHUB_SECRET": f"  {GITHUB_SECRET}\n"})
    assert settings.sources["github"].secrets == (GITHUB_SECRET,)


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
        answer = _post(client, "stripe", raw.encode(), {"Stripe-Signature": header})
        assert answer.status_code == 202, answer.json
    header = stripe.WebhookSignature.generate_signature_header(raw, "whsec_neither_of_them_x")
    assert _post(client, "stripe", raw.encode(), {"Stripe-Signature": header}).status_code == 401
    assert len(_jobs(conns)) == 2


@pytest.mark.parametrize(
    ("value", "problem"),
    [([], "list"), (["A", 3], "list"), (["OKTA_TOKEN", "OKTA_TOKEN"], "twice"), (7, "list")],
)
def test_a_malformed_secret_env_list_fails_config_load(value: object, problem: str) -> None:
    """secret_env is one variable name or a non-empty list of distinct names."""
    with pytest.raises(ConfigError, match=rf"\[sources.okta\] secret_env: .*{problem}"):
        sender_settings(okta={"secret_env": value})


def test_an_unset_variable_of_a_rotation_list_is_named() -> None:
    """Every listed variable must be set: a typo is an error, not a silently missing secret."""
    with pytest.raises(ConfigError, match="OKTA_TOKEN_OLD is not set"):
        sender_settings(okta={"secret_env": ["OKTA_TOKEN", "OKTA_TOKEN_OLD"]})


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
        answer = _post(client, "stdhooks", raw, {**headers, "webhook-id": f"msg_forged_{n}"})
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
    now = datetime.now(tz=UTC)
    signature = standardwebhooks.Webhook(STD_SECRET).sign("msg_signed_2", now, raw)
    headers = {
        "webhook-id": "msg_signed_2",
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
    }
    for n in range(3):
        answer = _post(client, "clerk", raw.encode(), {**headers, "svix-id": f"msg_forged_{n}"})
        assert answer.json["event_id"] == "msg_signed_2", answer.json
    assert _jobs(conns) == [["clerk", "msg_signed_2"]]


BARE = "supabase-bare-token-0123"


@pytest.mark.parametrize(
    "offered", ["Bearer", BARE[:-1], "Bearer " + BARE[:8], BARE + " extra", "Basic " + BARE]
)
def test_a_part_of_a_bare_token_or_another_scheme_is_refused(offered: str) -> None:
    """A configured bare token passes as itself or `Bearer <token>`, never a part of it."""
    src = dataclasses.replace(sender_settings().sources["supabase"], secrets=(BARE,))
    with pytest.raises(SignatureError):
        sources.verify(src, b"{}", {"authorization": offered}, 0)
    for value in (BARE, f"Bearer {BARE}", f"bearer   {BARE} "):
        sources.verify(src, b"{}", {"authorization": value}, 0)


def test_every_token_secret_is_compared_so_timing_does_not_say_which_matched(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Three active tokens, the first one offered: all three are compared in constant time."""
    secrets = (BARE, BARE + "-new", BARE + "-old")
    src = dataclasses.replace(sender_settings().sources["supabase"], secrets=secrets)
    calls: list[bytes] = []
    compare = hmac.compare_digest

    def counting(a: bytes, b: bytes) -> bool:
        calls.append(a)
        return compare(a, b)

    monkeypatch.setattr(token.hmac, "compare_digest", counting)
    sources.verify(src, b"{}", {"authorization": BARE}, 0)
    assert len(calls) == 3
