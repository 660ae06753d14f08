"""The apps and jobs our figures are ratios against: a floor and naive peers, kept minimal.

- floor_app(): a Flask route doing one LPUSH of the body (no parsing, no verification);
- naive_app(): Flask + RQ's Queue.enqueue per request (no verification, no dedupe);
The naive worker's job is tests/bench/peer_jobs.py (no Flask import in a forked horse).
gunicorn serves the apps as `tests.bench.peers:floor_app()`, with REDIS_URL in the env.
"""

from __future__ import annotations

import os

import redis
from flask import Flask, request
from rq import Queue

from tests.bench.peer_jobs import delete

NAIVE_QUEUE = "naive"


def _redis() -> redis.Redis:
    return redis.Redis.from_url(os.environ["REDIS_URL"])


def _app(name: str) -> Flask:
    app = Flask(name)
    app.add_url_rule("/healthz", "healthz", lambda: "ok")
    return app


def floor_app() -> Flask:
    """The floor: one LPUSH of the raw body per webhook."""
    app, r = _app("floor"), _redis()

    @app.post("/webhooks/<source>")
    def receive(source: str) -> tuple[str, int]:
        r.lpush(f"floor:{source}", request.get_data())
        return "", 202

    return app


def naive_app() -> Flask:
    """The naive peer: parse the JSON, enqueue one RQ job for it, no checks at all."""
    app, queue = _app("naive"), Queue(NAIVE_QUEUE, connection=_redis())

    @app.post("/webhooks/<source>")
    def receive(source: str) -> tuple[str, int]:
        body = request.get_json(force=True)
        queue.enqueue(delete, f"{source}/{body['id']}", "")
        return "", 202

    return app
