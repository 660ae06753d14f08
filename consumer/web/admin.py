"""The operator API under /admin: Bearer CONSUMER_ADMIN_TOKEN, compared in constant time.

No token configured: every /admin path answers 404, as if the API did not exist.
"""

from __future__ import annotations

import functools
import hmac
from collections.abc import Callable
from typing import Any

from flask import Blueprint, current_app, request
from flask.typing import ResponseReturnValue

from consumer.settings import Settings

bp = Blueprint("admin", __name__, url_prefix="/admin")


def require_admin(view: Callable[..., ResponseReturnValue]) -> Callable[..., ResponseReturnValue]:
    """404 when the admin API is off, 401 for a missing or wrong Bearer token."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> ResponseReturnValue:
        from consumer.web import error

        settings: Settings = current_app.config["SETTINGS"]
        if not settings.admin_token:
            return error(404, "not_found", "The requested URL was not found on the server.")
        offered = request.headers.get("Authorization", "")
        expected = f"Bearer {settings.admin_token}"
        if not hmac.compare_digest(offered.encode(), expected.encode()):
            return error(401, "unauthorized", "A valid admin Bearer token is required.")
        return view(*args, **kwargs)

    return wrapped


@bp.route("/", defaults={"path": ""}, methods=["GET", "POST", "PUT", "DELETE"])
@bp.route("/<path:path>", methods=["GET", "POST", "PUT", "DELETE"])
@require_admin
def unknown(path: str) -> ResponseReturnValue:
    """Any admin path without a route: 404 after the auth check (no probing without a token)."""
    from consumer.web import error

    return error(404, "not_found", "No such admin endpoint.")
