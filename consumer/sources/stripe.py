"""Stripe: `Stripe-Signature: t=<seconds>,v1=<hex>[,v1=..]`, the whsec_ secret used as is."""

from __future__ import annotations

from collections.abc import Mapping

from consumer.settings import SourceConfig
from consumer.sources import timestamped

HEADER = "Stripe-Signature"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The Stripe-Signature header value for one secret."""
    return f"t={timestamp},v1={timestamped.digest(secret, str(timestamp), body)}"


def verify(source: SourceConfig, body: bytes, headers: Mapping[str, str], now: float) -> None:
    """Accept if any v1 signature matches any active secret within the time tolerance."""
    timestamped.verify(source, body, headers, now, HEADER, unit=1)
