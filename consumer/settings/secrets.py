"""What a configured secret is made of: its key bytes per scheme and its auth-scheme word.

Shared by the configuration (which refuses weak secrets at start) and the verifiers (which
must read a secret exactly as the configuration measured it).
"""

from __future__ import annotations

import base64
import binascii
import re

MIN_SECRET_BYTES = 16
# Words that may lead an Authorization value (RFC 9110 §11.1, case-insensitive). Bearer is
# what a bare token means, so both are the same credential; any other word is part of it.
AUTH_SCHEMES = {"bearer": "", "basic": "basic"}
# Secrets of these schemes are base64 or alphanumeric: whitespace or a comma in one is a
# list of secrets in the old rotation syntax (one variable, separated), never one key.
_NO_SEPARATORS = ("standard-webhooks", "stripe", "workos")


def standard_key(secret: str) -> bytes:
    """The HMAC key of a Standard Webhooks secret: whsec_ base64 decoded, else the raw bytes."""
    raw = secret[len("whsec_") :] if secret.startswith("whsec_") else secret
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        # A secret that is not base64 is used as raw bytes, as some senders do.
        return raw.encode()


def credential(value: str) -> tuple[str, str]:
    """An Authorization-style value as (scheme, credential); Bearer and no word are both ""."""
    parts = value.strip().split(None, 1)
    if parts and parts[0].lower() in AUTH_SCHEMES:
        rest = parts[1].strip() if len(parts) == 2 else ""
        return AUTH_SCHEMES[parts[0].lower()], rest
    return "", value.strip()


def key_bytes(scheme: str, secret: str) -> bytes:
    """The bytes whose length is the secret's strength under scheme."""
    if scheme == "standard-webhooks":
        return standard_key(secret)
    if scheme == "token":
        return credential(secret)[1].encode()
    return secret.encode()


def secret_problem(scheme: str, secret: str) -> str | None:
    """Why a secret is refused for scheme (never quoting it), or None if it is usable."""
    if scheme in _NO_SEPARATORS and re.search(r"[\s,]", secret):
        return (
            f"holds whitespace or a comma, which a {scheme} secret never has; to rotate, "
            "put each secret in its own variable (secret_env = [...])"
        )
    if len(key_bytes(scheme, secret)) < MIN_SECRET_BYTES:
        what = "its key" if scheme in ("standard-webhooks", "token") else "it"
        return f"is too short: {what} must be at least {MIN_SECRET_BYTES} bytes"
    return None
