"""The Flask app: create_app() builds the typed state and registers one blueprint per concern
(webhooks, health and metrics, the OpenAPI document, the admin API and its mappings), the
JSON error handlers and the request size limit; views read the state through web.state.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from flask import Flask, request
from werkzeug.exceptions import RequestEntityTooLarge

from consumer.queue import erasure_queue
from consumer.settings import Settings, load_settings
from consumer.settings.proxies import networks
from consumer.store.connection import Connections, connect
from consumer.web import admin, admin_mappings, admin_receipts, health, openapi, page, webhooks
from consumer.web.errors import register_errors
from consumer.web.proxy import TrustedProxyFix
from consumer.web.state import AppState, install
from consumer.web.webhooks_fast import WebhookFastPath


def create_app(
    settings: Settings | None = None,
    *,
    redis: Connections | None = None,
    clock: Callable[[], float] | None = None,
) -> Flask:
    """Build the app; settings default to load_settings(), Redis to settings.redis_url."""
    settings = settings or load_settings()
    conns = redis or connect(settings.redis_url, settings.redis_sentinel)
    app = Flask(__name__, static_folder=None)
    app.config.update(
        # Flask would take FLASK_DEBUG from the environment: debug mode is never wanted here.
        DEBUG=False,
        MAX_CONTENT_LENGTH=settings.intake.max_body_bytes,
    )
    install(app, AppState(settings, conns, erasure_queue(conns.raw), clock or time.time))
    app.register_blueprint(webhooks.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(openapi.bp)
    app.register_blueprint(admin_mappings.bp)
    app.register_blueprint(admin_receipts.bp)
    page.register(app)  # the status page at /admin/: before the admin catch-all below
    # Last: its catch-all answers admin paths no other blueprint routes.
    app.register_blueprint(admin.bp)
    app.before_request(_limit_chunked)
    # X-Forwarded-For only from [web] trusted_proxies: the admin trail's "by" is an address.
    app.wsgi_app = TrustedProxyFix(  # type: ignore[method-assign]
        WebhookFastPath(app.wsgi_app, app), networks(settings.web.trusted_proxies)
    )
    register_errors(app)
    return app


def _limit_chunked() -> None:
    """413 for a chunked body over the limit: werkzeug would silently cut it at the limit."""
    if request.content_length is None and request.environ.get("wsgi.input_terminated"):
        request.get_data(cache=True)  # reads at most MAX_CONTENT_LENGTH bytes
        if request.environ["wsgi.input"].read(1):
            raise RequestEntityTooLarge()
