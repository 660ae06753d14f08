"""GitHub-style HMAC-SHA256 of the raw body in a configured header: hex or base64, sha256=."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping

from consumer.errors import MissingSignature, SignatureError
from consumer.settings import SourceConfig


def sign(secret: str, body: bytes) -> str:
    """The header value for one secret: sha256=<hex>."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _offered_digest(value: str) -> bytes | None:
    """The raw 32-byte digest a header carries as hex or base64, None if it is neither."""
    value = value.strip()
    if value[:7].lower() == "sha256=":
        value = value[7:]
    if len(value) == 64:
        try:
            return bytes.fromhex(value)
        except ValueError:
            return None
    try:
        raw = base64.b64decode(value.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError):
        return None
    return raw if len(raw) == 32 else None


def verify(source: SourceConfig, body: bytes, headers: Mapping[str, str], now: float) -> None:
    """Accept if the header's digest matches any active secret."""
    name = source.signature_header or "X-Signature"
    value = headers.get(name.lower(), "").strip()
    if not value:
        raise MissingSignature(f"missing {name} header")
    offered = _offered_digest(value)
    if offered is None:
        raise SignatureError(f"{name} is not a hex or base64 SHA-256 digest")
    for secret in source.secrets:
        expected = hmac.new(secret.encode(), body, hashlib.sha256).digest()
        if hmac.compare_digest(expected, offered):
            return
    raise SignatureError("no signature matches")
