"""`zeeg-consumer run` when one of its children dies: everything stops, exit non-zero."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import free_port
from tests.workers import processes_mentioning, wait_ready


def _child(pid: int, marker: str) -> int:
    """The direct child of pid whose command line holds marker."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ")
            if marker.encode() in cmdline:
                return int(child)
    raise AssertionError(f"no child of run matching {marker!r}")


@pytest.mark.parametrize("marker", ["redis-server", "gunicorn", "consumer worker"])
def test_run_stops_everything_and_fails_when_a_child_dies(marker: str, tmp_path: Path) -> None:
    """SIGKILL of one child: run stops the others, exits 1, and leaves no process behind."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("ZEEG_API_TOKEN", "REDIS_URL")}
    argv = [sys.executable, "-m", "consumer", "run", "--sandbox", "--port", str(port)]
    argv += ["--sandbox-port", str(free_port())]
    log = tmp_path / "run.log"
    with log.open("wb") as out:  # a file, not a pipe: an orphan holding it must not hide
        proc = subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_ready(f"http://127.0.0.1:{port}", proc)  # type: ignore[arg-type]
        os.kill(_child(proc.pid, marker), signal.SIGKILL)
        proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
    output = log.read_text()
    assert proc.returncode == 1, output
    assert "exited with status" in output
    time.sleep(0.5)
    assert processes_mentioning(str(tmp_path)) == []
