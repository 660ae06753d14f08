"""Signature schemes checked against the senders' own libraries, rotation and tolerance."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import time
from datetime import UTC, datetime

import pytest
import standardwebhooks
import stripe as stripe_lib
from workos import WorkOSClient

from consumer import sources
from consumer.errors import SignatureError
from consumer.settings import SourceConfig
from consumer.sources import hmac_sha256, standard, stripe, workos
from tests.helpers import SENDER_ENV, STD_SECRET, sender_settings

BODY = b'{"type": "user.deleted", "data": {"id": "u-1"}}'
NOW = 1_700_000_000


def _src(name: str, **replace: object) -> SourceConfig:
    src = sender_settings().sources[name]
    return dataclasses.replace(src, **replace) if replace else src


def test_standard_accepts_any_of_several_space_separated_signatures() -> None:
    """webhook-signature may list several entries; one valid v1 is enough."""
    stamp = datetime.fromtimestamp(NOW, tz=UTC)
    real = standardwebhooks.Webhook(STD_SECRET).sign("msg_1", stamp, BODY.decode())
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(NOW),
        "webhook-signature": f"v1,bm90IGl0 v1a,ignored {real}",
    }
    sources.verify(_src("stdhooks"), BODY, headers, NOW)


def test_standard_signature_is_what_the_standardwebhooks_library_verifies() -> None:
    """Our signer's output passes the library's own verification."""
    headers = {
        "webhook-id": "msg_2",
        "webhook-timestamp": str(int(time.time())),
        "webhook-signature": standard.sign(STD_SECRET, "msg_2", int(time.time()), BODY),
    }
    payload = standardwebhooks.Webhook(STD_SECRET).verify(BODY.decode(), headers)
    assert payload["data"]["id"] == "u-1"


def test_stripe_accepts_any_of_several_v1_values() -> None:
    """Stripe sends several v1 entries during its own secret rolls; one valid is enough."""
    secret = SENDER_ENV["STRIPE_SECRET"]
    real = stripe_lib.WebhookSignature.generate_signature_header(BODY.decode(), secret, NOW)
    header = f"t={NOW},v1={'0' * 64},{real.split(',')[1]},v0=abc"
    sources.verify(_src("stripe"), BODY, {"stripe-signature": header}, NOW)


def test_stripe_signature_is_what_the_stripe_library_verifies() -> None:
    """Our Stripe-Signature passes stripe.WebhookSignature.verify_header."""
    secret = SENDER_ENV["STRIPE_SECRET"]
    header = stripe.sign(secret, int(time.time()), BODY)
    assert stripe_lib.WebhookSignature.verify_header(BODY.decode(), header, secret, 300)


def test_workos_signature_is_what_the_workos_library_verifies() -> None:
    """Our WorkOS-Signature passes the workos SDK's webhooks.verify_header (it has no signer)."""
    secret = SENDER_ENV["WORKOS_SECRET"]
    header = workos.sign(secret, int(time.time() * 1000), BODY)
    client = WorkOSClient(api_key="sk_test_unused", client_id="client_unused")
    client.webhooks.verify_header(event_body=BODY, event_signature=header, secret=secret)
    with pytest.raises(ValueError, match="does not match"):
        client.webhooks.verify_header(event_body=BODY, event_signature=header, secret="other")


def test_workos_timestamp_is_read_as_milliseconds() -> None:
    """A WorkOS t= in milliseconds at NOW verifies at NOW (seconds)."""
    header = workos.sign(SENDER_ENV["WORKOS_SECRET"], NOW * 1000 + 999, BODY)
    sources.verify(_src("workos"), BODY, {"workos-signature": header}, NOW)


@pytest.mark.parametrize(
    "encode",
    [
        lambda d: d.hex(),
        lambda d: "sha256=" + d.hex(),
        lambda d: d.hex().upper(),
        lambda d: base64.b64encode(d).decode(),
        lambda d: "sha256=" + base64.b64encode(d).decode(),
    ],
    ids=["hex", "sha256=hex", "HEX", "base64", "sha256=base64"],
)
def test_hmac_accepts_hex_or_base64_with_optional_prefix(encode: object) -> None:
    """hmac-sha256 reads the digest as hex or base64, with or without sha256=."""
    key = SENDER_ENV["KEYCLOAK_SECRET"].encode()
    digest = hmac.new(key, BODY, hashlib.sha256).digest()
    value = encode(digest)  # type: ignore[operator]
    sources.verify(_src("keycloak"), BODY, {"x-keycloak-signature": value}, NOW)


@pytest.mark.parametrize("value", ["{t}", "Bearer {t}", "bearer {t}", "  Bearer   {t} "])
def test_token_accepts_the_secret_with_or_without_bearer(value: str) -> None:
    """token: the configured header holds the secret, optionally after Bearer."""
    headers = {"authorization": value.format(t=SENDER_ENV["OKTA_TOKEN"])}
    sources.verify(_src("okta"), BODY, headers, NOW)


def test_token_reads_a_configured_header() -> None:
    """signature_header names another header (Supabase custom headers)."""
    src = _src("supabase", signature_header="X-Webhook-Token")
    sources.verify(src, BODY, {"x-webhook-token": SENDER_ENV["SUPABASE_TOKEN"]}, NOW)
    with pytest.raises(SignatureError):
        sources.verify(src, BODY, {"authorization": SENDER_ENV["SUPABASE_TOKEN"]}, NOW)


def _signed_by(name: str, secret: str) -> dict[str, str]:
    src = _src(name, secrets=(secret,))
    return {k.lower(): v for k, v in sources.sign_headers(src, BODY, "msg_r", NOW).items()}


@pytest.mark.parametrize("name", ["stdhooks", "stripe", "workos", "keycloak", "okta"])
@pytest.mark.parametrize("which", [0, 1])
def test_each_secret_of_a_rotation_is_accepted(name: str, which: int) -> None:
    """Two active secrets (old and new): a request signed with either verifies."""
    secrets = ("whsec_b2xkLXNlY3JldC1vbGQ=", "whsec_bmV3LXNlY3JldC1uZXc=")
    headers = _signed_by(name, secrets[which])
    sources.verify(_src(name, secrets=secrets), BODY, headers, NOW)


@pytest.mark.parametrize("name", ["stdhooks", "stripe", "workos", "keycloak", "okta"])
def test_a_retired_secret_is_refused(name: str) -> None:
    """Once the old secret is dropped from the variable, its signatures fail."""
    headers = _signed_by(name, "whsec_b2xkLXNlY3JldC1vbGQ=")
    with pytest.raises(SignatureError):
        sources.verify(_src(name, secrets=("whsec_bmV3LXNlY3JldC1uZXc=",)), BODY, headers, NOW)


@pytest.mark.parametrize("name", ["stdhooks", "stripe", "workos"])
@pytest.mark.parametrize("skew", [-59, 59])
def test_timestamp_within_the_source_tolerance_is_accepted(name: str, skew: int) -> None:
    """tolerance_seconds = 60: 59 s early or late verifies."""
    headers = _signed_by(name, _src(name).secrets[0])
    sources.verify(_src(name, tolerance_seconds=60), BODY, headers, NOW + skew)


@pytest.mark.parametrize("name", ["stdhooks", "stripe", "workos"])
@pytest.mark.parametrize("skew", [-61, 61])
def test_timestamp_past_the_source_tolerance_is_refused(name: str, skew: int) -> None:
    """tolerance_seconds = 60: 61 s early or late is refused, in both directions."""
    headers = _signed_by(name, _src(name).secrets[0])
    with pytest.raises(SignatureError, match="tolerance"):
        sources.verify(_src(name, tolerance_seconds=60), BODY, headers, NOW + skew)


def test_rotation_through_two_environment_variables_makes_two_secrets() -> None:
    """secret_env = ["STRIPE_SECRET", "STRIPE_SECRET_OLD"] makes two active secrets."""
    env = {"STRIPE_SECRET": "whsec_new_stripe_secret", "STRIPE_SECRET_OLD": "whsec_old_stripe_key"}
    settings = sender_settings(
        env=env, stripe={"secret_env": ["STRIPE_SECRET", "STRIPE_SECRET_OLD"]}
    )
    assert settings.sources["stripe"].secrets == ("whsec_new_stripe_secret", "whsec_old_stripe_key")


def test_unsigned_scheme_refuses_without_the_opt_in() -> None:
    """scheme none on a source without insecure_allow_unsigned is a SignatureError."""
    src = _src("unsigned", insecure_allow_unsigned=False)
    with pytest.raises(SignatureError):
        sources.verify(src, BODY, {}, NOW)


def test_a_library_error_on_malformed_input_becomes_a_signature_error() -> None:
    """A superscript digit passes isdigit() but int() raises ValueError: wrapped, not raised."""
    headers = {"webhook-id": "m", "webhook-timestamp": "\u00b2", "webhook-signature": "v1,x"}
    with pytest.raises(SignatureError):
        sources.verify(_src("stdhooks"), BODY, headers, NOW)


def test_hmac_signer_output_verifies() -> None:
    """hmac_sha256.sign makes the sha256=<hex> GitHub sends."""
    value = hmac_sha256.sign(SENDER_ENV["GITHUB_SECRET"], BODY)
    expected = hmac.new(SENDER_ENV["GITHUB_SECRET"].encode(), BODY, hashlib.sha256).hexdigest()
    assert value == "sha256=" + expected


@pytest.mark.parametrize("value", ["Bearer", "Bearer "])
def test_token_variable_written_with_bearer_does_not_accept_an_empty_bearer(value: str) -> None:
    """SUPABASE_TOKEN="Bearer <t>": the scheme word alone is no credential, a bare Bearer fails."""
    settings = sender_settings(env={"SUPABASE_TOKEN": "Bearer supa-secret-token-1"})
    src = settings.sources["supabase"]
    with pytest.raises(SignatureError):
        sources.verify(src, BODY, {"authorization": value}, NOW)
    sources.verify(src, BODY, {"authorization": "Bearer supa-secret-token-1"}, NOW)
