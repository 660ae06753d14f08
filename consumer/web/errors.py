"""Every failure answers one JSON body: the handlers that map exceptions to status codes."""

from __future__ import annotations

import logging

import redis
from flask import Flask, jsonify
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

from consumer.errors import RequestError

log = logging.getLogger(__name__)


def error(status: int, code: str, message: str) -> ResponseReturnValue:
    """The JSON error body every failure answers with."""
    return jsonify(error=code, message=message), status


def register_errors(app: Flask) -> None:
    """Answer our request errors, a Redis outage and werkzeug's HTTP errors as JSON."""

    @app.errorhandler(RequestError)
    def request_error(e: RequestError) -> ResponseReturnValue:
        return error(e.status, e.code, str(e))

    # Unreachable, full (noeviction: OOM aborts the whole transaction) or a read-only replica
    # after a failover: the webhook is not acknowledged, so the sender retries it.
    @app.errorhandler(redis.exceptions.ConnectionError)
    @app.errorhandler(redis.exceptions.TimeoutError)
    @app.errorhandler(redis.exceptions.OutOfMemoryError)
    @app.errorhandler(redis.exceptions.ReadOnlyError)
    @app.errorhandler(redis.exceptions.ExecAbortError)
    def store_down(e: Exception) -> ResponseReturnValue:
        log.error("redis unavailable: %s", type(e).__name__)
        message = "Redis is unavailable; the webhook was not acknowledged, retry it."
        return error(503, "store_unavailable", message)

    @app.errorhandler(HTTPException)
    def http_error(e: HTTPException) -> ResponseReturnValue:
        code = (e.name or "error").lower().replace(" ", "_")
        # A 405 names the methods the path takes (RFC 9110 Allow); werkzeug keeps them on e.
        allow = {k: v for k, v in e.get_headers() if k == "Allow"}
        message = e.description or e.name
        return jsonify(error=code, message=message), e.code or 500, allow
