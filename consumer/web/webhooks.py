"""POST /webhooks/<source>: raw bytes -> verify -> parse -> intake transaction -> answer.

A batch (Auth0 log stream, Okta) is verified once and each of its events goes through its own
intake transaction; the answer lists every event's result in body order.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import redis
from flask import Blueprint, g, jsonify, request
from flask.blueprints import BlueprintSetupState
from flask.typing import ResponseReturnValue

from consumer import sources
from consumer.errors import BodyError, SignatureError, UnknownSource, UnsupportedMediaType
from consumer.intake import Tally
from consumer.models import Ignored, quoted
from consumer.settings import SourceConfig
from consumer.settings.presets import BATCH_ARRAY
from consumer.sources.parse import Item, Rejected, read
from consumer.store import metrics
from consumer.store.metrics import Writer
from consumer.web.state import state

bp = Blueprint("webhooks", __name__)
log = logging.getLogger(__name__)

# Auth0 log streams may be set to send JSON lines under their own media type.
JSON_LINES = ("application/x-ndjson", "application/jsonl", "application/json-lines")
OKTA_CHALLENGE = "x-okta-verification-challenge"
# Metrics a request adds, written by count() in the one pipeline that counts its answer.
LATER = "zc_metrics_later"
# Set once the intake script counted the answer itself (one round trip per webhook).
COUNTED = "zc_metrics_counted"
# The environ key under which the fast path (web/webhooks_fast.py) leaves the error its
# intake raised: the view raises it where it would store the event, so Flask answers it.
FAILED = "zeeg_consumer.intake_error"
# The environ key under which the fast path leaves its verification's outcome (Verified, or
# the SignatureError it raised) when Flask is to answer: the view takes it, not a second
# verification (a forged request or an ignored event was verified twice, once in each).
VERIFIED = "zeeg_consumer.verified"


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
    started = time.perf_counter()
    src = _source(source)
    body = request.get_data(cache=False)
    lines_ok = src.options.get("batch") == BATCH_ARRAY and request.mimetype in JSON_LINES
    if not (request.is_json or lines_ok):
        raise UnsupportedMediaType("Content-Type must be application/json")
    headers = {k.lower(): v for k, v in request.headers.items()}
    now = state().clock()
    verified = _verify(src, body, headers, now)
    parsed = read(src, body, verified.headers)
    if not parsed.batch:
        (item,) = parsed.items
        if isinstance(item, Rejected):
            raise item.error
        result = _intake(src.name, item, now, intake_tally(src.name, started))
        return jsonify(result), 202 if result["status"] == "accepted" else 200
    results = [{"index": i, **_intake(src.name, it, now)} for i, it in enumerate(parsed.items)]
    elapsed = time.perf_counter() - started  # a batch's intake ends with its last event's
    _later(lambda pipe: metrics.observe(pipe, metrics.INTAKE_SECONDS, elapsed, source=src.name))
    return _batch_answer(results)


def _verify(
    src: SourceConfig, body: bytes, headers: dict[str, str], now: float
) -> sources.Verified:
    """sources.verify (or the fast path's verdict), a refusal counted by its reason."""
    try:
        return _verified(src, body, headers, now)
    except SignatureError as e:
        labels = {"source": src.name, "reason": e.reason}
        _later(lambda pipe: metrics.incr(pipe, metrics.VERIFICATION_FAILURES, 1, **labels))
        raise


def _verified(
    src: SourceConfig, body: bytes, headers: dict[str, str], now: float
) -> sources.Verified:
    """The fast path's verdict on this request if it reached one, else sources.verify's."""
    earlier = request.environ.pop(VERIFIED, None)
    if isinstance(earlier, SignatureError):
        raise earlier
    if isinstance(earlier, sources.Verified):
        return earlier
    return sources.verify(src, body, headers, now)


def _later(write: Callable[[Writer], None]) -> None:
    """Queue a metrics write for count(), so a request costs one metrics round trip at most."""
    g.setdefault(LATER, []).append(write)


def intake_tally(source: str, started: float) -> Tally:
    """The metrics the intake script writes for a single event: the answer and the latency."""

    def tally(pipe: Writer, status: str) -> None:
        code = "202" if status == "accepted" else "200"
        metrics.incr(pipe, metrics.WEBHOOKS, source=source, status=code)
        metrics.observe(pipe, metrics.INTAKE_SECONDS, time.perf_counter() - started, source=source)

    return tally


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


def _intake(source: str, item: Item, now: float, tally: Tally | None = None) -> dict[str, Any]:
    if isinstance(item, Rejected):
        return {"status": "invalid", "error": item.error.code, "message": str(item.error)}
    if isinstance(item, Ignored):
        _later(lambda pipe: metrics.incr(pipe, metrics.IGNORED, source=source))
        return {"status": "ignored", "event_id": item.event_id, "reason": item.reason}
    failed = request.environ.pop(FAILED, None)
    if isinstance(failed, Exception):
        raise failed
    result = state().intake.accept(item, now, tally)
    if tally is not None:
        setattr(g, COUNTED, True)
    return result.answer()


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
        writes: list[Callable[[Writer], None]] = g.pop(LATER, [])
        if not g.pop(COUNTED, False):
            label = _label(request.view_args.get("source"))
            status = str(response.status_code)
            writes.append(
                lambda pipe: metrics.incr(pipe, metrics.WEBHOOKS, source=label, status=status)
            )
        if writes:
            _write(writes)
    return response


def _label(name: object) -> str:
    """The source label: only configured names become labels."""
    # Any other path would grow the counters without bound and could inject quotes or
    # newlines into the Prometheus text.
    return name if isinstance(name, str) and name in state().settings.sources else "unknown"


def _write(writes: list[Callable[[Writer], None]]) -> None:
    """Send a request's metrics writes in one pipeline; a metrics miss never changes the answer."""
    try:
        with state().r.pipeline(transaction=False) as pipe:
            for write in writes:
                write(pipe)
            pipe.execute()
    except redis.exceptions.RedisError as e:  # down, full or read-only: answer anyway
        log.warning("metrics not counted: %s", type(e).__name__)
