"""Standard Webhooks (also Svix and Clerk): base64 HMAC-SHA256 over id.timestamp.body."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping

from consumer.errors import SignatureError
from consumer.settings import SourceConfig

PREFIXES = ("webhook-", "svix-")


def _key(secret: str) -> bytes:
    raw = secret[len("whsec_") :] if secret.startswith("whsec_") else secret
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        # A secret that is not base64 is used as raw bytes, as some senders do.
        return raw.encode()


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The webhook-signature header value ("v1,<base64>") for one secret."""
    content = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def _headers(headers: Mapping[str, str]) -> tuple[str, str, str]:
    for prefix in PREFIXES:
        values = [headers.get(prefix + n) for n in ("id", "timestamp", "signature")]
        if all(values):
            return values[0] or "", values[1] or "", values[2] or ""
    raise SignatureError("missing webhook-id, webhook-timestamp or webhook-signature header")


def verify(source: SourceConfig, body: bytes, headers: Mapping[str, str], now: float) -> None:
    """Accept if any v1 signature matches any active secret within the time tolerance."""
    msg_id, stamp, signatures = _headers(headers)
    # ASCII digits only: int() also reads Arabic-Indic digits, isdigit() passes superscripts.
    if not (stamp.isascii() and stamp.isdigit()) or len(stamp) > 16:
        raise SignatureError("webhook-timestamp is not an integer of seconds")
    if abs(now - int(stamp)) > source.tolerance_seconds:
        raise SignatureError("webhook-timestamp is outside the tolerance")
    offered = [s.partition(",")[2] for s in signatures.split() if s.startswith("v1,")]
    for secret in source.secrets:
        expected = sign(secret, msg_id, int(stamp), body).partition(",")[2]
        if any(hmac.compare_digest(expected.encode(), o.encode()) for o in offered):
            return
    raise SignatureError("no signature matches")
