"""Standard Webhooks (also Svix and Clerk): base64 HMAC-SHA256 over id.timestamp.body."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping

from consumer.errors import MissingSignature, SignatureError, StaleTimestamp
from consumer.settings import SourceConfig
from consumer.settings.secrets import standard_key

PREFIXES = ("webhook-", "svix-")
NAMES = ("id", "timestamp", "signature")


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The webhook-signature header value ("v1,<base64>") for one secret."""
    content = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(standard_key(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def _headers(headers: Mapping[str, str]) -> tuple[str, str, str]:
    for prefix in PREFIXES:
        values = [headers.get(prefix + n) for n in NAMES]
        if all(values):
            return values[0] or "", values[1] or "", values[2] or ""
    raise MissingSignature("missing webhook-id, webhook-timestamp or webhook-signature header")


def verify(
    source: SourceConfig, body: bytes, headers: Mapping[str, str], now: float
) -> dict[str, str]:
    """Accept if any v1 signature matches any active secret within the time tolerance.

    Returns the signed id, timestamp and signature under both spellings (webhook-, svix-):
    a header of the other, unsigned set must never stand in for them (a forged webhook-id
    beside svix-* headers would make one signed request many events).
    """
    msg_id, stamp, signatures = _headers(headers)
    # ASCII digits only: int() also reads Arabic-Indic digits, isdigit() passes superscripts.
    if not (stamp.isascii() and stamp.isdigit()) or len(stamp) > 16:
        raise SignatureError("webhook-timestamp is not an integer of seconds")
    if abs(now - int(stamp)) > source.tolerance_seconds:
        raise StaleTimestamp("webhook-timestamp is outside the tolerance")
    offered = [s.partition(",")[2] for s in signatures.split() if s.startswith("v1,")]
    for secret in source.secrets:
        expected = sign(secret, msg_id, int(stamp), body).partition(",")[2]
        if any(hmac.compare_digest(expected.encode(), o.encode()) for o in offered):
            signed = dict(zip(NAMES, (msg_id, stamp, signatures), strict=True))
            return {prefix + n: v for prefix in PREFIXES for n, v in signed.items()}
    raise SignatureError("no signature matches")
