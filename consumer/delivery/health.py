"""A worker's health for an orchestrator: `worker --health-port PORT` serves GET /healthz.

200 while the worker's RQ heartbeat is fresh (its key in Redis, whose TTL RQ renews at each
heartbeat, still exists) and its maintenance loop completed within 2 x the maintenance
interval + SLACK_SECONDS (plus the job timeout while a job runs, since a job holds the loop);
503 otherwise. The JSON body says which check failed. The server is a small threaded
http.server in the worker's main process, so it lives and dies with that process.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import redis

from consumer.delivery.worker import ErasureWorker
from consumer.settings import Settings
from consumer.store.connection import DEFAULT_URL

log = logging.getLogger(__name__)
SLACK_SECONDS = 15.0
PATHS = ("/healthz", "/")
_RQ_TIME = "%Y-%m-%dT%H:%M:%S.%fZ"  # how RQ writes last_heartbeat


def heartbeat(r: redis.Redis, worker_key: str, now: float) -> dict[str, Any]:
    """Whether the worker's RQ heartbeat is fresh: its key alive in Redis, and how old it is."""
    try:
        with r.pipeline(transaction=False) as pipe:
            pipe.hget(worker_key, "last_heartbeat")
            pipe.pttl(worker_key)
            last, ttl_ms = pipe.execute()
    except redis.exceptions.RedisError as e:
        return {"ok": False, "detail": f"Redis unavailable ({type(e).__name__})"}
    if not last or int(ttl_ms) <= 0:
        return {"ok": False, "detail": "no live heartbeat in Redis (not registered or expired)"}
    try:
        beat = datetime.strptime(str(last), _RQ_TIME).replace(tzinfo=UTC).timestamp()
    except ValueError:
        return {"ok": False, "detail": "last_heartbeat is unreadable"}
    return {"ok": True, "age_seconds": round(now - beat, 3), "expires_in_seconds": ttl_ms / 1000}


def maintenance(done_at: float | None, now: float, limit: float) -> dict[str, Any]:
    """Whether the maintenance loop completed within limit seconds of now."""
    if done_at is None:
        return {"ok": False, "detail": "maintenance has not run yet", "limit_seconds": limit}
    age = round(now - done_at, 3)
    ok = age <= limit
    return {"ok": ok, "age_seconds": age, "limit_seconds": limit}


def maintenance_limit(settings: Settings, busy: bool) -> float:
    """2 x the maintenance interval + slack, plus the job timeout while a job holds the loop."""
    d = settings.delivery
    return (
        2 * d.maintenance_interval_seconds + SLACK_SECONDS + (d.job_timeout_seconds if busy else 0)
    )


def report(worker: ErasureWorker, r: redis.Redis, settings: Settings) -> dict[str, Any]:
    """The health of one worker now: both checks and the verdict."""
    now = time.time()
    limit = maintenance_limit(settings, worker.get_state() == "busy")
    checks = {
        "heartbeat": heartbeat(r, worker.key, now),
        "maintenance": maintenance(worker.maintained_at, now, limit),
    }
    ok = all(c["ok"] for c in checks.values())
    return {"status": "ok" if ok else "unhealthy", "worker": worker.name, **checks}


class HealthServer:
    """GET /healthz on host:port in a daemon thread: 200 or 503 with report()'s JSON."""

    def __init__(self, host: str, port: int, probe: Callable[[], dict[str, Any]]) -> None:
        handler = type("Handler", (_Handler,), {"probe": staticmethod(probe)})
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        """The port it listens on."""
        return int(self._server.server_address[1])

    def start(self) -> HealthServer:
        """Serve in the background."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()


class _Handler(BaseHTTPRequestHandler):
    probe: Callable[[], dict[str, Any]]

    def do_GET(self) -> None:
        if self.path.split("?")[0] not in PATHS:
            self._answer(404, {"error": "not_found", "message": "GET /healthz is the only path."})
            return
        body = self.probe()
        self._answer(200 if body["status"] == "ok" else 503, body)

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("health %s", format % args)


def serve(
    worker: ErasureWorker | Callable[[], ErasureWorker], settings: Settings, host: str, port: int
) -> HealthServer:
    """Start the health server of worker, or of the one worker() names at each probe (its
    own Redis client, with short timeouts)."""
    r = redis.Redis.from_url(
        settings.redis_url or DEFAULT_URL,
        decode_responses=True,
        socket_connect_timeout=1.0,
        socket_timeout=1.0,
    )
    current = worker if callable(worker) else lambda: worker
    return HealthServer(host, port, lambda: report(current(), r, settings)).start()
