"""Shared by stripe and workos: a `t=<time>,v1=<hex>` header, hex HMAC-SHA256 over `t.body`."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from consumer.errors import MissingSignature, SignatureError, StaleTimestamp
from consumer.settings import SourceConfig


def digest(secret: str, stamp: str, body: bytes) -> str:
    """Hex HMAC-SHA256 of `<stamp>.<body>`, the secret used as is (whsec_ prefix included)."""
    return hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def split_header(value: str) -> tuple[str, list[str]]:
    """The timestamp and every v1 signature of a `t=..,v1=..,v1=..` header."""
    stamps: list[str] = []
    signatures: list[str] = []
    for item in value.split(","):
        key, _, val = item.strip().partition("=")
        if key == "t":
            stamps.append(val.strip())
        elif key == "v1":
            signatures.append(val.strip().lower())
    # ASCII digits only: int() also reads Arabic-Indic digits, isdigit() passes superscripts.
    ascii_int = len(stamps) == 1 and stamps[0].isascii() and stamps[0].isdigit()
    if not ascii_int or len(stamps[0]) > 16:
        raise SignatureError("signature header needs exactly one integer t=")
    if not signatures:
        raise SignatureError("signature header has no v1= signature")
    return stamps[0], signatures


def check(
    value: str, secrets: tuple[str, ...], body: bytes, now: float, tolerance: int, unit: float
) -> None:
    """Raise SignatureError unless a v1 signature matches a secret within the tolerance.

    unit is how many header time units make a second (1 for Stripe, 1000 for WorkOS).
    """
    stamp, offered = split_header(value)
    if abs(now - int(stamp) / unit) > tolerance:
        raise StaleTimestamp("signature timestamp is outside the tolerance")
    for secret in secrets:
        expected = digest(secret, stamp, body).encode()
        if any(hmac.compare_digest(expected, o.encode("utf-8", "replace")) for o in offered):
            return
    raise SignatureError("no signature matches")


def verify(
    source: SourceConfig,
    body: bytes,
    headers: Mapping[str, str],
    now: float,
    header: str,
    unit: float,
) -> None:
    """Check the source's signature header (header by default) for check(); missing is a 401."""
    name = source.signature_header or header
    value = headers.get(name.lower(), "")
    if not value.strip():
        raise MissingSignature(f"missing {name} header")
    check(value, source.secrets, body, now, source.tolerance_seconds, unit=unit)
