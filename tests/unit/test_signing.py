"""Ed25519 signing of receipts and checkpoints, Redis-free: round trip, tampering, wrong keys,
unsigned documents, and keys that cannot be read (never quoted)."""

from __future__ import annotations

import base64

import pytest

from consumer import signing
from consumer.errors import BadKey, ConfigError
from tests.helpers import make_settings

DOC = {"type": "erasure-receipt", "external_id": "user_ü", "records": [{"http_status": 204}]}


def test_a_signed_document_verifies_under_its_public_key() -> None:
    """sign then problem: None; the signature names the key id of the public key."""
    _, key = signing.generate()
    doc = signing.sign(DOC, key)
    assert doc["signed"] is True and doc["signature"]["key_id"] == key.key_id
    assert signing.problem(doc, signing.load_public(key.public)) is None


def test_a_changed_value_or_another_key_fails() -> None:
    """One changed value, a changed signature byte, another key: each named."""
    _, key = signing.generate()
    _, other = signing.generate()
    doc = signing.sign(DOC, key)
    public = signing.load_public(key.public)
    changed = {**doc, "external_id": "user_v"}
    assert "does not match" in str(signing.problem(changed, public))
    raw = bytearray(base64.b64decode(doc["signature"]["value"]))
    raw[0] ^= 1
    flipped = {**doc, "signature": {**doc["signature"], "value": base64.b64encode(raw).decode()}}
    assert "does not match" in str(signing.problem(flipped, public))
    assert "another key" in str(signing.problem(doc, signing.load_public(other.public)))


def test_without_a_key_the_document_says_it_is_unsigned() -> None:
    """signed: false, no signature, and verifying it says so."""
    doc = signing.sign(DOC, None)
    assert doc["signed"] is False and "signature" not in doc
    _, key = signing.generate()
    assert signing.problem(doc, signing.load_public(key.public)) == "the document is not signed"


def test_the_signed_bytes_are_the_canonical_json_without_the_signature() -> None:
    """Key order and indentation do not matter: verification rebuilds the canonical form."""
    _, key = signing.generate()
    doc = signing.sign(DOC, key)
    reordered = dict(reversed(list(doc.items())))
    assert signing.signed_bytes(reordered) == signing.signed_bytes(doc)
    assert b"signature" not in signing.signed_bytes(doc)
    assert "user_ü".encode() in signing.signed_bytes(doc)


@pytest.mark.parametrize("text", ["not base64!", base64.b64encode(b"short").decode(), ""])
def test_an_unreadable_key_is_refused_without_quoting_it(text: str) -> None:
    """BadKey, and the message never holds the key text."""
    with pytest.raises(BadKey) as info:
        signing.load_private(text)
    assert text == "" or text not in str(info.value)


def test_a_bad_signing_key_fails_the_configuration_naming_the_variable() -> None:
    """AUDIT_SIGNING_KEY that is not a key: refused at start, the value never echoed."""
    secret = base64.b64encode(b"x" * 31).decode()
    with pytest.raises(ConfigError) as info:
        make_settings(env={"AUDIT_SIGNING_KEY": secret})
    assert "AUDIT_SIGNING_KEY" in str(info.value) and secret not in str(info.value)


def test_a_configured_key_is_loaded_and_never_shown_in_repr() -> None:
    """The settings hold the key; their repr shows neither the seed nor the key object."""
    private, key = signing.generate()
    settings = make_settings(env={"AUDIT_SIGNING_KEY": private})
    assert settings.signing_key is not None and settings.signing_key.key_id == key.key_id
    assert private not in repr(settings) and private not in repr(settings.signing_key)
