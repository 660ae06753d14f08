"""Real worker processes for delivery tests: `python -m consumer worker` as subprocesses."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis
import requests

from consumer.devtools.sandbox import Sandbox
from consumer.models import Mapping
from consumer.settings import Settings
from consumer.store import events, mappings
from consumer.store.connection import Connections
from tests.helpers import ZEEG_TOKEN, accept_event, toml_text

FAST_RECOVERY = {
    "maintenance_interval_seconds": 1,
    "job_heartbeat_seconds": 1,
    "heartbeat_grace_seconds": 2,
    "backoff_base_seconds": 0.05,
    "backoff_max_seconds": 0.2,
    "auth_probe_seconds": 0.5,
}


class Workers:
    """Worker processes sharing one config file, Redis and sandbox; each in its own session."""

    def __init__(self, directory: Path, redis_url: str, sandbox: Sandbox, **sections: Any) -> None:
        merged: dict[str, dict[str, Any]] = {"delivery": dict(FAST_RECOVERY)}
        for name, values in sections.items():
            merged[name] = {**merged.get(name, {}), **values}
        self.directory = directory
        config = directory / "consumer.toml"
        config.write_text(toml_text(merged))
        self.env = {
            **os.environ,
            "CONSUMER_CONFIG": str(config),
            "REDIS_URL": redis_url,
            "ZEEG_API_BASE_URL": sandbox.url,
            "ZEEG_API_TOKEN": ZEEG_TOKEN,
        }
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, n: int = 1, *options: str) -> list[subprocess.Popen[bytes]]:
        """Start n workers (`python -m consumer worker --sandbox [options]`), logging to files."""
        started = []
        for _ in range(n):
            log = (self.directory / f"worker-{len(self.procs)}.log").open("wb")
            argv = [sys.executable, "-m", "consumer", "worker", "--sandbox", *options]
            proc = subprocess.Popen(
                argv, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
            log.close()
            self.procs.append(proc)
            started.append(proc)
        return started

    def stop(self) -> None:
        """SIGTERM every worker still running, SIGKILL what does not stop within 20 s."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                kill_tree(proc.pid, signal.SIGKILL)
                proc.wait(5)

    def logs(self) -> str:
        """Every worker's output, for failure messages."""
        return "\n".join(p.read_text() for p in sorted(self.directory.glob("worker-*.log")))


def descendants(pid: int) -> list[int]:
    """pid's children, grandchildren and so on (the RQ work horse runs in its own group)."""
    found: list[int] = []
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except FileNotFoundError:
        return found
    for task in tasks:
        try:
            children = (task / "children").read_text().split()
        except FileNotFoundError:
            continue
        for child in map(int, children):
            found += [child, *descendants(child)]
    return found


def kill_tree(pid: int, sig: signal.Signals) -> None:
    """Send sig to pid and all its descendants at once (children first, then the parent)."""
    for target in [*descendants(pid), pid]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(target, sig)


def wait_until(check: Callable[[], bool], timeout: float, what: str = "condition") -> None:
    """Poll check() until it holds; fail with what after timeout seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def accept_mapped(
    settings: Settings,
    text: redis.Redis,
    raw: redis.Redis,
    sandbox: Sandbox,
    n: int,
    **days: float,
) -> list[str]:
    """Seed n sandbox contacts, map them, accept one event each; returns the record ids.

    days: accept_event's dedupe_ttl_days and retention_days (1 and 1 unless given)."""
    rids = sandbox.state.seed("contacts", [{} for _ in range(n)])
    conns = Connections(text, raw)
    for i, rid in enumerate(rids):
        mappings.put(text, Mapping("userdb", "contacts", f"u-{i}", rid, 1.0))
        timeout = settings.delivery.job_timeout_seconds
        accept_event(conns, f"evt-{i}", f"u-{i}", time.time(), job_timeout=timeout, **days)
    return rids


def all_done(text: redis.Redis, n: int) -> Callable[[], bool]:
    """A check that every event evt-0..evt-(n-1) is done."""
    return lambda: (
        events.pending_count(text) == 0
        and all(
            (e := events.load(text, "userdb", f"evt-{i}")) is not None and e.status == "done"
            for i in range(n)
        )
    )


def processes_mentioning(marker: str) -> list[int]:
    """Pids of processes whose command line holds marker or whose cwd is under it."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if marker in cmdline or cwd.startswith(marker):
            pids.append(int(entry.name))
    return pids


def wait_ready(url: str, proc: subprocess.Popen[str], timeout: float = 30) -> dict[str, object]:
    """Poll url/readyz until it answers 200 (proc must keep running); returns its body."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "run exited early"
        try:
            answer = requests.get(f"{url}/readyz", timeout=1)
            if answer.status_code == 200:
                body: dict[str, object] = answer.json()
                return body
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    raise AssertionError("run did not become ready")
