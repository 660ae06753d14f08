"""POST /webhooks/<source>: raw bytes -> verify -> parse -> intake transaction -> answer.

A batch (Auth0 log stream, Okta) is verified once and each of its events goes through its own
intake transaction; the answer lists every event's result in body order.
"""

from __future__ import annotations

import logging
from typing import Any

import redis
from flask import Blueprint, jsonify, request
from flask.blueprints import BlueprintSetupState
from flask.typing import ResponseReturnValue

from consumer import sources
from consumer.errors import BodyError, UnknownSource, UnsupportedMediaType
from consumer.models import Ignored, quoted
from consumer.settings import SourceConfig
from consumer.settings.presets import BATCH_ARRAY
from consumer.sources.parse import Item, Rejected, read
from consumer.store import metrics
from consumer.web.state import state

bp = Blueprint("webhooks", __name__)
log = logging.getLogger(__name__)

# Auth0 log streams may be set to send JSON lines under their own media type.
JSON_LINES = ("application/x-ndjson", "application/jsonl", "application/json-lines")
OKTA_CHALLENGE = "x-okta-verification-challenge"


@bp.record_once
def _warn_unsigned(setup: BlueprintSetupState) -> None:
    settings = state(setup.app).settings
    for src in settings.sources.values():
        if src.scheme == "none":
            log.warning("source %s accepts UNSIGNED webhooks (insecure_allow_unsigned)", src.name)


def _source(name: str) -> SourceConfig:
    settings = state().settings
    src = settings.sources.get(name)
    if src is None:
        raise UnknownSource(f"no source named {quoted(name)} is configured")
    return src


@bp.post("/webhooks/<source>")
def receive(source: str) -> ResponseReturnValue:
    """Verify and store a webhook; 2xx only once its events are durably in Redis."""
    src = _source(source)
    body = request.get_data(cache=False)
    lines_ok = src.options.get("batch") == BATCH_ARRAY and request.mimetype in JSON_LINES
    if not (request.is_json or lines_ok):
        raise UnsupportedMediaType("Content-Type must be application/json")
    headers = {k.lower(): v for k, v in request.headers.items()}
    now = state().clock()
    verified = sources.verify(src, body, headers, now)
    parsed = read(src, body, verified.headers)
    if not parsed.batch:
        (item,) = parsed.items
        if isinstance(item, Rejected):
            raise item.error
        result = _intake(item, now)
        return jsonify(result), 202 if result["status"] == "accepted" else 200
    results = [{"index": i, **_intake(item, now)} for i, item in enumerate(parsed.items)]
    return _batch_answer(results)


def _batch_answer(results: list[dict[str, Any]]) -> ResponseReturnValue:
    """202 if any event was accepted, 200 if all are valid, 422 if none is."""
    counts: dict[str, int] = {}
    for r in results:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    answer = {"counts": counts, "results": results}
    if counts.get("accepted"):
        return jsonify(answer), 202
    if counts.get("invalid") == len(results):
        message = "No event of the batch is valid; see results."
        return jsonify(error="invalid_batch", message=message, **answer), 422
    return jsonify(answer), 200


def _intake(item: Item, now: float) -> dict[str, Any]:
    if isinstance(item, Rejected):
        return {"status": "invalid", "error": item.error.code, "message": str(item.error)}
    if isinstance(item, Ignored):
        return {"status": "ignored", "event_id": item.event_id, "reason": item.reason}
    result = state().intake.accept(item, now)
    return {"status": result.status, "event_id": result.event_id, "job_id": result.job_id}


@bp.get("/webhooks/<source>")
def okta_challenge(source: str) -> ResponseReturnValue:
    """Okta's one-time verification: echo X-Okta-Verification-Challenge (okta sources only)."""
    src = _source(source)
    if src.preset != "okta":
        return jsonify(error="method_not_allowed", message="Webhooks are POSTed."), 405
    challenge = request.headers.get(OKTA_CHALLENGE, "").strip()
    if not challenge or len(challenge) > 512 or not challenge.isprintable():
        raise BodyError("missing or malformed X-Okta-Verification-Challenge header")
    return jsonify(verification=challenge)


@bp.after_app_request
def count(response: Any) -> Any:
    """Count webhook answers by source and status (best effort: Redis may be down)."""
    if request.blueprint == "webhooks" and request.view_args:
        settings = state().settings
        name = request.view_args.get("source")
        # Only configured names become labels: any other path would grow the counters without
        # bound and could inject quotes or newlines into the Prometheus text.
        label = name if isinstance(name, str) and name in settings.sources else "unknown"
        try:  # a metrics miss must never change the answer
            metrics.incr(
                state().r,
                "zeeg_consumer_webhooks_total",
                source=label,
                status=str(response.status_code),
            )
        except redis.exceptions.RedisError as e:  # down, full or read-only: answer anyway
            log.warning("metrics not counted: %s", type(e).__name__)
    return response
