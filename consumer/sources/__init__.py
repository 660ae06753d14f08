"""Signature schemes and event parsing: verify(body, headers), then parse(body)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from consumer.errors import SignatureError
from consumer.settings import SourceConfig
from consumer.sources import hmac_sha256, standard, stripe, token, workos

# A verifier raises SignatureError or returns the headers its signature covers, under every
# name a header: field path may use for them (None: it covers none). Standard Webhooks signs
# its id and timestamp; Stripe and WorkOS sign a timestamp inside their own signature
# header; hmac-sha256 and token cover no header, so a header id there is the sender's word.
Verifier = Callable[[SourceConfig, bytes, Mapping[str, str], float], Mapping[str, str] | None]


@dataclass(frozen=True)
class Verified:
    """A request whose signature checked out, and the headers its events are read from."""

    headers: Mapping[str, str]


def _unsigned(source: SourceConfig, body: bytes, headers: Mapping[str, str], now: float) -> None:
    if not source.insecure_allow_unsigned:
        raise SignatureError("unsigned sources are refused")


VERIFIERS: dict[str, Verifier] = {
    "standard-webhooks": standard.verify,
    "stripe": stripe.verify,
    "workos": workos.verify,
    "hmac-sha256": hmac_sha256.verify,
    "token": token.verify,
    "none": _unsigned,
}


def verify(source: SourceConfig, body: bytes, headers: Mapping[str, str], now: float) -> Verified:
    """Raise SignatureError unless the request is signed by one of the source's secrets.

    headers must have lower-case names. The answer's headers are the request's with every
    signature-covered one replaced by the value that was verified, so a parse step reading
    them never sees an unsigned look-alike. Any error a verifier raises on malformed input is
    turned into SignatureError so that a bad request is a 401, never a 500.
    """
    verifier = VERIFIERS.get(source.scheme)
    if verifier is None:
        raise SignatureError(f"scheme {source.scheme!r} is not supported")
    try:
        covered = verifier(source, body, headers, now)
    except SignatureError:
        raise
    except (ValueError, TypeError, UnicodeError, ArithmeticError) as e:
        raise SignatureError("malformed signature headers") from e
    return Verified({**headers, **(covered or {})})


Signer = Callable[[SourceConfig, bytes, str, int], dict[str, str]]


def _sign_standard(source: SourceConfig, body: bytes, msg_id: str, now: int) -> dict[str, str]:
    signature = standard.sign(source.secrets[0], msg_id, now, body)
    return {"webhook-id": msg_id, "webhook-timestamp": str(now), "webhook-signature": signature}


def _sign_hmac(source: SourceConfig, body: bytes, msg_id: str, now: int) -> dict[str, str]:
    return {source.signature_header or "X-Signature": hmac_sha256.sign(source.secrets[0], body)}


def _sign_stripe(source: SourceConfig, body: bytes, msg_id: str, now: int) -> dict[str, str]:
    return {source.signature_header or stripe.HEADER: stripe.sign(source.secrets[0], now, body)}


def _sign_workos(source: SourceConfig, body: bytes, msg_id: str, now: int) -> dict[str, str]:
    value = workos.sign(source.secrets[0], now * 1000, body)
    return {source.signature_header or workos.HEADER: value}


def _sign_token(source: SourceConfig, body: bytes, msg_id: str, now: int) -> dict[str, str]:
    return {source.signature_header or token.HEADER: source.secrets[0]}


SIGNERS: dict[str, Signer] = {
    "standard-webhooks": _sign_standard,
    "stripe": _sign_stripe,
    "workos": _sign_workos,
    "hmac-sha256": _sign_hmac,
    "token": _sign_token,
    "none": lambda source, body, msg_id, now: {},
}


def sign_headers(source: SourceConfig, body: bytes, msg_id: str, now: int) -> dict[str, str]:
    """Headers that make a request verify for source (send-test-event, tests)."""
    signer = SIGNERS.get(source.scheme)
    if signer is None:
        raise SignatureError(f"cannot sign for scheme {source.scheme!r}")
    headers = signer(source, body, msg_id, now)
    # A source whose event id travels in a header (GitHub-style delivery ids) needs it sent.
    if source.event_id.startswith("header:"):
        headers.setdefault(source.event_id[len("header:") :], msg_id)
    return headers
