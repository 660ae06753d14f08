"""`zeeg-consumer replay` on a terminal draws a progress bar (a real process on a pty)."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import time
from pathlib import Path

from consumer.devtools.sandbox import Sandbox
from consumer.store.connection import Connections
from tests.helpers import RedisServer, accept_event, cli_env, write_config


def _read_all(fd: int) -> str:
    """Everything written to the pty until its other end closed."""
    chunks = []
    while True:
        try:
            data = os.read(fd, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks).decode("utf-8", "replace")


def test_replay_on_a_terminal_draws_a_progress_bar_to_100_percent(
    conns: Connections, sandbox: Sandbox, redis_server: RedisServer, tmp_path: Path
) -> None:
    """stderr on a tty shows the labelled bar reaching 100%; stdout keeps the summary."""
    now = time.time()
    for i in range(3):
        accept_event(conns, f"e-{i}", f"u-{i}", now, occurred_at=now)
    env = cli_env(write_config(tmp_path / "c.toml"), sandbox.url, redis_server.url)
    master, slave = pty.openpty()
    argv = [sys.executable, "-m", "consumer", "replay", "--reason", "progress test"]
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=slave, text=True)
    os.close(slave)
    stdout, _ = proc.communicate(timeout=60)
    bar = _read_all(master)
    os.close(master)
    assert proc.returncode == 0
    assert "replaying" in bar and "100%" in bar
    assert stdout.startswith("3 event(s) replayed")
