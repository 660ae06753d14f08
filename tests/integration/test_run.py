"""`zeeg-consumer run --sandbox` as a user starts it: a real process tree, stopped by Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.helpers import free_port
from tests.workers import processes_mentioning, wait_ready


def _cli(
    cli: list[str], args: list[str], cwd: Path, env: dict[str, str], *, timeout: float
) -> subprocess.CompletedProcess[str]:
    """Run one CLI command beside the running server and capture its output."""
    return subprocess.run(
        [*cli, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_run_sandbox_deletes_a_test_event_and_stops_cleanly(tmp_path: Path) -> None:
    """Banner, readyz sandbox=true, send-test-event ends deleted, Ctrl-C leaves nothing behind."""
    port, sandbox_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("ZEEG_API_TOKEN", "REDIS_URL")}
    cli = [sys.executable, "-m", "consumer"]
    proc = subprocess.Popen(
        [*cli, "run", "--sandbox", "--port", str(port), "--sandbox-port", str(sandbox_port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        ready = wait_ready(f"http://127.0.0.1:{port}", proc)
        assert ready["sandbox"] is True and ready["redis"] == "ok"
        sent = _cli(cli, ["send-test-event", "--json"], tmp_path, env, timeout=60)
        assert sent.returncode == 0, sent.stderr
        result = json.loads(sent.stdout)
        assert result["event"]["status"] == "done"
        assert result["event"]["outcomes"] == {"contacts": ["deleted"]}
        assert (tmp_path / "var" / "redis" / "appendonlydir").is_dir()
        # Operator commands beside it find the embedded Redis without REDIS_URL.
        status = _cli(cli, ["status", "--json"], tmp_path, env, timeout=30)
        assert status.returncode == 0, status.stderr
        assert json.loads(status.stdout)["last_hour"] == {"deleted": 1}
    finally:
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, output
    assert not (tmp_path / "var" / "redis.url").exists()  # removed at shutdown
    assert "SANDBOX MODE" in output and "send-test-event" in output
    assert "contacts" in output and "deleted" in output  # the worker logged the outcome
    time.sleep(0.2)
    assert processes_mentioning(str(tmp_path)) == []
