"""Ed25519 signatures of audit checkpoints and erasure receipts, Redis-free.

Keys: the private key is the raw 32-byte Ed25519 seed in standard padded base64 (the
`AUDIT_SIGNING_KEY` variable), the public key the raw 32-byte key in the same encoding, and
the key id the first 16 hex digits of the public key's SHA-256. A signed document is a JSON
object whose `signature` is {"algorithm": "Ed25519", "key_id": ..., "value": base64}; what
is signed is the document without `signature` in the canonical JSON form the audit chain
uses (keys sorted, no whitespace, non-ASCII kept, UTF-8). Documents hold strings, integers,
booleans, lists and objects only (times are ISO 8601 text), so any language rebuilds the
same bytes. An unsigned document says `"signed": false` and has no `signature`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from consumer.errors import BadKey

ALGORITHM = "Ed25519"
KEY_BYTES = 32


class SigningKey:
    """A private key ready to sign, with its public half as served and printed.

    A plain class, not a dataclass: settings treat dataclass fields as [sections].
    """

    __slots__ = ("key_id", "private", "public")

    def __init__(self, private: Ed25519PrivateKey, public: str, key_id: str) -> None:
        self.private, self.public, self.key_id = private, public, key_id

    def __repr__(self) -> str:
        return f"SigningKey(key_id={self.key_id!r})"


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(public_raw: bytes) -> str:
    """The short id of a public key: the first 16 hex digits of its SHA-256."""
    return hashlib.sha256(public_raw).hexdigest()[:16]


def _decode(text: str, what: str) -> bytes:
    """32 bytes from standard base64 (whitespace around it ignored)."""
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise BadKey(f"{what} is not base64") from None
    if len(raw) != KEY_BYTES:
        raise BadKey(f"{what} must be {KEY_BYTES} bytes of base64, not {len(raw)}")
    return raw


def load_private(text: str) -> SigningKey:
    """The signing key from its base64 seed; BadKey (never quoting it) if unreadable."""
    private = Ed25519PrivateKey.from_private_bytes(_decode(text, "the private key"))
    public_raw = _raw_public(private.public_key())
    return SigningKey(private, base64.b64encode(public_raw).decode(), key_id(public_raw))


def load_public(text: str) -> Ed25519PublicKey:
    """A public key from its base64 (as `keys show` prints it)."""
    return Ed25519PublicKey.from_public_bytes(_decode(text, "the public key"))


def generate() -> tuple[str, SigningKey]:
    """A new key pair: the private key's base64 seed and the key ready to sign."""
    seed = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.Raw,
        serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )
    text = base64.b64encode(seed).decode()
    return text, load_private(text)


def signed_bytes(doc: Mapping[str, Any]) -> bytes:
    """What a signature covers: the document without `signature`, canonical JSON, UTF-8."""
    kept = {k: v for k, v in doc.items() if k != "signature"}
    text = json.dumps(kept, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8")


def sign(doc: Mapping[str, Any], key: SigningKey | None) -> dict[str, Any]:
    """The document with `signed` set, and its signature when a key is configured."""
    out = {k: v for k, v in doc.items() if k != "signature"}
    out["signed"] = key is not None
    if key is None:
        return out
    value = base64.b64encode(key.private.sign(signed_bytes(out))).decode()
    out["signature"] = {"algorithm": ALGORITHM, "key_id": key.key_id, "value": value}
    return out


def problem(doc: Mapping[str, Any], public: Ed25519PublicKey) -> str | None:
    """Why a signed document does not verify under public, or None when it does."""
    sig = doc.get("signature")
    if doc.get("signed") is not True or not isinstance(sig, dict):
        return "the document is not signed"
    if sig.get("algorithm") != ALGORITHM:
        return f"unknown signature algorithm (expected {ALGORITHM})"
    if sig.get("key_id") != key_id(_raw_public(public)):
        return "signed by another key (its key_id is not this public key's)"
    try:
        public.verify(base64.b64decode(str(sig.get("value", "")), validate=True), signed_bytes(doc))
    except (InvalidSignature, binascii.Error, ValueError):
        return "the signature does not match the document (changed, or another key)"
    return None
