"""The status page's login: a signed session cookie that holds a fingerprint of the admin
token (never the token), the login time and a CSRF token.

The cookie's signing key is derived from CONSUMER_ADMIN_TOKEN, so rotating the token ends
every session at once; a session also ends SESSION_HOURS after its login, whatever it does.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from flask import Flask, request, session
from flask.sessions import SecureCookieSessionInterface, SessionMixin
from itsdangerous import URLSafeTimedSerializer

from consumer.web.state import state

SESSION_HOURS = 12
COOKIE = "zc_admin_session"
CSRF_FIELD = "csrf_token"
# Fixed labels: the same token yields a different key for each use.
_SIGNING_LABEL = b"zeeg-consumer status page: cookie signing key v1"
_FINGERPRINT_LABEL = b"zeeg-consumer status page: session fingerprint v1"


def _derive(token: str, label: bytes) -> bytes:
    """HMAC-SHA256 of a fixed label keyed by the admin token."""
    return hmac.new(token.encode(), label, hashlib.sha256).digest()


def fingerprint(token: str) -> str:
    """What a session keeps of the token it was opened with (the token cannot be read back)."""
    return _derive(token, _FINGERPRINT_LABEL).hex()


class PageSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, keyed by the admin token, strict about the cookie."""

    salt = "zeeg-consumer-status-page"

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        """A serializer signing with the key derived from the current admin token (None: off)."""
        token = state(app).settings.admin_token
        if not token:
            return None
        return URLSafeTimedSerializer(
            _derive(token, _SIGNING_LABEL),
            salt=self.salt,
            serializer=self.serializer,
            signer_kwargs={"key_derivation": self.key_derivation, "digest_method": hashlib.sha256},
        )

    def get_cookie_name(self, app: Flask) -> str:
        """A name of our own, so no other app on the host shares it."""
        return COOKIE

    def get_cookie_path(self, app: Flask) -> str:
        """Sent to /admin only: the webhook endpoints never see it."""
        return "/admin"

    def get_cookie_httponly(self, app: Flask) -> bool:
        """Never readable by a script."""
        return True

    def get_cookie_samesite(self, app: Flask) -> str:
        """Never sent with a request another site starts (a first line against CSRF)."""
        return "Strict"

    def get_cookie_secure(self, app: Flask) -> bool:
        """Secure whenever the request came over HTTPS (as the WSGI server reports it)."""
        return request.is_secure

    def should_set_cookie(self, app: Flask, session: SessionMixin) -> bool:
        """Only when the session changed: its expiry counts from the login, not the last view."""
        return session.modified


def install(app: Flask) -> None:
    """Use the page's sessions on this app (only the status page writes a session)."""
    app.session_interface = PageSessions()
    app.permanent_session_lifetime = timedelta(hours=SESSION_HOURS)


def csrf_token() -> str:
    """This session's CSRF token, made on first use (the login form carries one too)."""
    token = session.get("csrf")
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


def csrf_ok() -> bool:
    """Whether the POST carries this session's CSRF token (compared in constant time)."""
    expected = session.get("csrf")
    offered = request.form.get(CSRF_FIELD, "")
    if not isinstance(expected, str) or not expected or not offered:
        return False
    return hmac.compare_digest(offered.encode(), expected.encode())


def token_ok(offered: str) -> bool:
    """Whether offered is the admin token (compared in constant time, as the admin API does)."""
    expected = state().settings.admin_token or ""
    return bool(expected) and hmac.compare_digest(offered.encode(), expected.encode())


def logged_in() -> bool:
    """Whether this session was opened with the current token, less than SESSION_HOURS ago."""
    token = state().settings.admin_token
    held, since = session.get("fp"), session.get("at")
    if not token or not isinstance(held, str) or not isinstance(since, int | float):
        return False
    age = state().clock() - since
    fresh = 0 <= age < SESSION_HOURS * 3600
    return fresh and hmac.compare_digest(held.encode(), fingerprint(token).encode())


def log_in() -> None:
    """Open a fresh session: nothing of the one before it (its CSRF token included) is kept."""
    token = state().settings.admin_token
    assert token is not None  # the page answers 404 before this without a token
    session.clear()
    session.permanent = True
    session.update(fp=fingerprint(token), at=state().clock(), csrf=secrets.token_urlsafe(32))


def log_out() -> None:
    """End the session: the cookie is deleted."""
    session.clear()
