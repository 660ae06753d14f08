"""POST /webhooks/<source>: raw bytes -> verify -> parse -> intake transaction -> answer."""

from __future__ import annotations

import logging
from typing import Any

import redis
from flask import Blueprint, current_app, jsonify, request
from flask.typing import ResponseReturnValue

from consumer import sources
from consumer.errors import UnknownSource, UnsupportedMediaType
from consumer.models import Ignored
from consumer.settings import Settings
from consumer.sources.parse import parse
from consumer.store import intake, metrics

bp = Blueprint("webhooks", __name__)
log = logging.getLogger(__name__)


@bp.post("/webhooks/<source>")
def receive(source: str) -> ResponseReturnValue:
    """Verify and store one webhook; 2xx only once its events are durably in Redis."""
    settings: Settings = current_app.config["SETTINGS"]
    src = settings.sources.get(source)
    if src is None:
        raise UnknownSource(f"no source named {source!r} is configured")
    body = request.get_data(cache=False)
    if not request.is_json:
        raise UnsupportedMediaType("Content-Type must be application/json")
    headers = {k.lower(): v for k, v in request.headers.items()}
    now = current_app.config["CLOCK"]()
    sources.verify(src, body, headers, now)
    results = [_intake(item, settings, now) for item in parse(src, body, headers)]
    status = 202 if any(r["status"] == "accepted" for r in results) else 200
    return jsonify(results[0] if len(results) == 1 else {"results": results}), status


def _intake(item: Any, settings: Settings, now: float) -> dict[str, Any]:
    if isinstance(item, Ignored):
        return {"status": "ignored", "event_id": item.event_id, "reason": item.reason}
    result = intake.accept(
        current_app.config["REDIS"],
        current_app.config["QUEUE"],
        item,
        now=now,
        dedupe_ttl_days=settings.intake.dedupe_ttl_days,
        retention_days=settings.intake.event_log_retention_days,
        job_timeout=settings.delivery.job_timeout_seconds,
    )
    return {"status": result.status, "event_id": result.event_id, "job_id": result.job_id}


@bp.after_app_request
def count(response: Any) -> Any:
    """Count webhook answers by source and status (best effort: Redis may be down)."""
    if request.blueprint == "webhooks" and request.view_args:
        try:  # a metrics miss must never change the answer
            metrics.incr(
                current_app.config["REDIS"],
                "zeeg_consumer_webhooks_total",
                source=str(request.view_args.get("source", ""))[:64],
                status=str(response.status_code),
            )
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
            log.warning("metrics not counted: Redis unavailable")
    return response
