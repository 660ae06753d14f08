"""The Flask app: webhooks, health, metrics (and later the admin API), one blueprint each."""

from __future__ import annotations

import logging
import time
from typing import Any

import redis
from flask import Flask, jsonify, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from consumer.errors import RequestError
from consumer.queue import erasure_queue
from consumer.settings import Settings, load_settings
from consumer.store.connection import Connections, connect

log = logging.getLogger(__name__)


def create_app(
    settings: Settings | None = None, *, redis: Connections | None = None, clock: Any = None
) -> Flask:
    """Build the app; settings default to load_settings(), Redis to settings.redis_url."""
    settings = settings or load_settings()
    conns = redis or connect(settings.redis_url)
    app = Flask(__name__, static_folder=None)
    app.config.update(
        # Flask would take FLASK_DEBUG from the environment: debug mode is never wanted here.
        DEBUG=False,
        MAX_CONTENT_LENGTH=settings.intake.max_body_bytes,
        SETTINGS=settings,
        REDIS=conns.text,
        QUEUE=erasure_queue(conns.raw),
        CLOCK=clock or time.time,
    )
    from consumer.web import admin, admin_mappings, health, openapi, webhooks

    app.register_blueprint(webhooks.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(openapi.bp)
    app.register_blueprint(admin_mappings.bp)
    # Last: its catch-all answers admin paths no other blueprint routes.
    app.register_blueprint(admin.bp)
    app.before_request(_limit_chunked)
    _register_errors(app)
    return app


def _limit_chunked(*_: Any) -> None:
    """413 for a chunked body over the limit: werkzeug would silently cut it at the limit."""
    if request.content_length is None and request.environ.get("wsgi.input_terminated"):
        request.get_data(cache=True)  # reads at most MAX_CONTENT_LENGTH bytes
        if request.environ["wsgi.input"].read(1):
            raise RequestEntityTooLarge()


def error(status: int, code: str, message: str) -> ResponseReturnValue:
    """The JSON error body every failure answers with."""
    return jsonify(error=code, message=message), status


def _register_errors(app: Flask) -> None:
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
