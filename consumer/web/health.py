"""/healthz, /readyz and /metrics."""

from __future__ import annotations

import redis
from flask import Blueprint, Response, jsonify
from flask.typing import ResponseReturnValue

from consumer.ops import scrape
from consumer.web.state import state

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    """200 while the process runs."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> ResponseReturnValue:
    """200 with Redis reachable (configuration was validated at start), else 503."""
    s = state()
    try:
        s.r.ping()
        redis_ok = True
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
        redis_ok = False
    body = {
        "status": "ready" if redis_ok else "unavailable",
        "redis": "ok" if redis_ok else "unavailable",
        "config": "ok",
        "sandbox": s.settings.sandbox,
        "sources": sorted(s.settings.sources),
    }
    return jsonify(body), 200 if redis_ok else 503


@bp.get("/metrics")
def prometheus() -> ResponseReturnValue:
    """Counters, gauges and histograms across all processes, in the Prometheus text format."""
    return Response(scrape.render(state().ops()), content_type=scrape.CONTENT_TYPE)
