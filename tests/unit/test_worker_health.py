"""delivery.health: the maintenance check's limit and verdicts, and the server's answers."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from consumer.delivery import health
from tests.helpers import make_settings


def test_the_limit_is_twice_the_interval_plus_slack_and_a_job_timeout_while_busy() -> None:
    """A busy worker's loop may be held by one job, up to its timeout."""
    settings = make_settings(
        delivery={"maintenance_interval_seconds": 30, "job_timeout_seconds": 300}
    )
    assert health.maintenance_limit(settings, busy=False) == 60 + health.SLACK_SECONDS
    assert health.maintenance_limit(settings, busy=True) == 360 + health.SLACK_SECONDS


@pytest.mark.parametrize(
    ("done_at", "ok"), [(None, False), (1000.0 - 75.0, True), (1000.0 - 75.5, False)]
)
def test_maintenance_is_fresh_within_the_limit(done_at: float | None, ok: bool) -> None:
    """Never run, or longer ago than the limit: not ok."""
    assert health.maintenance(done_at, 1000.0, 75.0)["ok"] is ok


@pytest.mark.parametrize(("status", "code"), [("ok", 200), ("unhealthy", 503)])
def test_the_server_answers_the_probe_verdict_as_json(status: str, code: int) -> None:
    """200 or 503 with the probe's body; any other path is a 404."""
    body: dict[str, Any] = {"status": status, "heartbeat": {"ok": status == "ok"}}
    server = health.HealthServer("127.0.0.1", 0, lambda: body).start()
    try:
        answer = requests.get(f"http://127.0.0.1:{server.port}/healthz", timeout=5)
        assert (answer.status_code, answer.json()) == (code, body)
        other = requests.get(f"http://127.0.0.1:{server.port}/other", timeout=5)
        assert other.status_code == 404 and other.json()["error"] == "not_found"
    finally:
        server.stop()
