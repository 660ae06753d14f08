"""Ctrl-C during `zeeg-consumer replay` (a real process) stops cleanly and tells how many."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from consumer.devtools.sandbox import Sandbox
from consumer.store import keys
from consumer.store.connection import Connections
from tests.helpers import RedisServer, accept_event, cli_env, write_config

EVENTS = 1500


def _accept(conns: Connections, n: int) -> None:
    now = time.time()
    for i in range(n):
        accept_event(conns, f"e-{i:05d}", f"u-{i}", now, occurred_at=now)


def _replayed(conns: Connections, n: int) -> int:
    with conns.text.pipeline(transaction=False) as pipe:
        for i in range(n):
            pipe.hget(keys.event("userdb", f"e-{i:05d}"), "replayed")
        return sum(1 for flag in pipe.execute() if flag == "1")


def test_sigint_stops_replay_between_events_and_reports_the_exact_count(
    conns: Connections, sandbox: Sandbox, redis_server: RedisServer, tmp_path: Path
) -> None:
    """The process exits 1 with one line, and exactly the reported number was replayed."""
    _accept(conns, EVENTS)
    env = cli_env(write_config(tmp_path / "c.toml"), sandbox.url, redis_server.url)
    argv = [sys.executable, "-m", "consumer", "replay", "--reason", "cancel test"]
    proc = subprocess.Popen(
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 60
    while conns.text.hget(keys.event("userdb", "e-00010"), "replayed") != "1":
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.005)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    last = stderr.strip().splitlines()[-1]
    assert proc.returncode == 1
    assert last.startswith("zeeg-consumer: replay cancelled: ")
    count = int(last.split(": ")[2].split()[0])
    assert 10 < count < EVENTS
    assert _replayed(conns, EVENTS) == count
