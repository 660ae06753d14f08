"""Stripe: `Stripe-Signature: t=<seconds>,v1=<hex>[,v1=..]`, the whsec_ secret used as is."""

from __future__ import annotations

from collections.abc import Mapping

from consumer.errors import SignatureError
from consumer.settings import SourceConfig
from consumer.sources import timestamped

HEADER = "Stripe-Signature"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The Stripe-Signature header value for one secret."""
    return f"t={timestamp},v1={timestamped.digest(secret, str(timestamp), body)}"


def verify(source: SourceConfig, body: bytes, headers: Mapping[str, str], now: float) -> None:
    """Accept if any v1 signature matches any active secret within the time tolerance."""
    value = headers.get((source.signature_header or HEADER).lower(), "")
    if not value.strip():
        raise SignatureError(f"missing {source.signature_header or HEADER} header")
    timestamped.check(value, source.secrets, body, now, source.tolerance_seconds, unit=1)
