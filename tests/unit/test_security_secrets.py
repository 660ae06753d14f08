"""A secret is used whole: never split, never short, and ids come from the headers it signed."""

from __future__ import annotations

import base64
import dataclasses
import hmac

import pytest

from consumer import sources
from consumer.errors import ConfigError, SignatureError
from consumer.sources import token
from tests.helpers import sender_settings

# The secret of GitHub's "Validating webhook deliveries" page, and its test vector.
GITHUB_SECRET = "It's a Secret to Everybody"
GITHUB_VECTOR = "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"


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
