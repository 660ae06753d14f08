"""WorkOS: `WorkOS-Signature: t=<milliseconds>, v1=<hex>`, hex HMAC-SHA256 over `t.body`."""

from __future__ import annotations

from collections.abc import Mapping

from consumer.settings import SourceConfig
from consumer.sources import timestamped

HEADER = "WorkOS-Signature"


def sign(secret: str, timestamp_ms: int, body: bytes) -> str:
    """The WorkOS-Signature header value for one secret; the time is in milliseconds."""
    return f"t={timestamp_ms}, v1={timestamped.digest(secret, str(timestamp_ms), body)}"


def verify(source: SourceConfig, body: bytes, headers: Mapping[str, str], now: float) -> None:
    """Accept if the v1 signature matches any active secret within the time tolerance."""
    timestamped.verify(source, body, headers, now, HEADER, unit=1000)
