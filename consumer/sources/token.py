"""A static shared secret in a configured header (Auth0, Okta, Supabase), `Bearer ` optional."""

from __future__ import annotations

import hmac
from collections.abc import Mapping

from consumer.errors import SignatureError
from consumer.settings import SourceConfig

HEADER = "Authorization"


def verify(source: SourceConfig, body: bytes, headers: Mapping[str, str], now: float) -> None:
    """Accept if the header holds one of the source's secrets, compared in constant time."""
    name = source.signature_header or HEADER
    offered = headers.get(name.lower(), "").strip()
    if offered[:7].lower() == "bearer ":
        offered = offered[7:].strip()
    if not offered:
        raise SignatureError(f"missing {name} header")
    given = offered.encode("utf-8", "replace")
    # A variable set to "Bearer <token>" is split on spaces into "Bearer" and the token: the
    # bare word is the scheme, never a secret, or an empty "Bearer" header would pass.
    secrets = [s for s in source.secrets if s.lower() != "bearer"]
    # Every secret is compared, so the time taken does not say which one matched.
    matched = [hmac.compare_digest(s.encode(), given) for s in secrets]
    if not any(matched):
        raise SignatureError(f"{name} does not hold a valid token")
