"""`worker --health-port`: 200 while the worker's heartbeat and maintenance are fresh, 503 once
Redis is gone under a real worker process."""

from __future__ import annotations

from pathlib import Path

import requests

from consumer.devtools.sandbox import Sandbox
from tests.helpers import RedisServer, free_port
from tests.workers import Workers, wait_until


def _health(port: int) -> requests.Response | None:
    try:
        return requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
    except requests.ConnectionError:
        return None  # not listening yet


def test_health_turns_503_when_redis_stops_under_a_running_worker(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    """Healthy once registered and maintained; Redis stopped: 503 naming the heartbeat."""
    server = RedisServer(tmp_path / "redis").start()  # its own Redis: this test stops it
    workers = Workers(tmp_path, server.url, sandbox)
    port = free_port()
    workers.start(1, "--health-port", str(port), "--health-host", "127.0.0.1")
    try:
        wait_until(lambda: (a := _health(port)) is not None and a.status_code == 200, 20, "200")
        answer = _health(port)
        assert answer is not None
        body = answer.json()
        assert (body["status"], body["heartbeat"]["ok"], body["maintenance"]["ok"]) == (
            "ok",
            True,
            True,
        )
        assert body["maintenance"]["limit_seconds"] == 2 * 1 + 15  # FAST_RECOVERY's interval
        server.stop()
        answer = _health(port)
        assert answer is not None, workers.logs()
        assert answer.status_code == 503
        body = answer.json()
        assert (body["status"], body["heartbeat"]["ok"]) == ("unhealthy", False)
        assert "Redis unavailable" in body["heartbeat"]["detail"]
    finally:
        workers.stop()
        server.stop()
