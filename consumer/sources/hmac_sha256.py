"""GitHub-style HMAC-SHA256 of the raw body in a configured header (hex, optional sha256=)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from consumer.errors import SignatureError
from consumer.settings import SourceConfig


def sign(secret: str, body: bytes) -> str:
    """The header value for one secret: sha256=<hex>."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(source: SourceConfig, body: bytes, headers: Mapping[str, str], now: float) -> None:
    """Accept if the header's digest matches any active secret."""
    header = (source.signature_header or "X-Signature").lower()
    offered = headers.get(header, "").strip()
    if not offered:
        raise SignatureError(f"missing {source.signature_header} header")
    offered = offered.removeprefix("sha256=").lower()
    for secret in source.secrets:
        expected = sign(secret, body).removeprefix("sha256=")
        if hmac.compare_digest(expected.encode(), offered.encode("utf-8", "replace")):
            return
    raise SignatureError("no signature matches")
