"""A static shared secret in a configured header (Auth0, Okta, Supabase), `Bearer ` optional."""

from __future__ import annotations

import hmac
from collections.abc import Mapping

from consumer.errors import MissingSignature, SignatureError
from consumer.settings import SourceConfig
from consumer.settings.secrets import credential

HEADER = "Authorization"


def _canonical(value: str) -> bytes:
    """A header value as compared: its scheme word normalised, its credential kept whole."""
    scheme, cred = credential(value)
    return f"{scheme} {cred}".encode("utf-8", "replace")


def verify(source: SourceConfig, body: bytes, headers: Mapping[str, str], now: float) -> None:
    """Accept if the header holds one of the source's secrets whole, in constant time.

    Both sides are read the same way: `Basic <b64>` must be offered as `Basic <b64>`, while a
    bare token and `Bearer <token>` are the same credential. A scheme word alone, or any part
    of a secret, matches nothing.
    """
    name = source.signature_header or HEADER
    offered = headers.get(name.lower(), "")
    if not credential(offered)[1]:
        raise MissingSignature(f"{name} header is missing or holds no credential")
    given = _canonical(offered)
    # Every secret is compared, so the time taken does not say which one matched.
    matched = [hmac.compare_digest(_canonical(s), given) for s in source.secrets]
    if not any(matched):
        raise SignatureError(f"{name} does not hold a valid token")
