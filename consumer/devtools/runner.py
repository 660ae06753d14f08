"""The all-in-one `zeeg-consumer run`: embedded Redis, optional sandbox, web and worker.

Children run in their own sessions, so Ctrl-C reaches only this supervisor, which then stops
them in order: web and worker first (warm shutdown: in-flight calls finish), Redis last.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import secrets
import shutil
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import redis

log = logging.getLogger(__name__)
STOP_GRACE_SECONDS = 15.0


@dataclass
class Child:
    """A supervised process."""

    name: str
    proc: subprocess.Popen[bytes]


@dataclass
class Supervisor:
    """Starts children, watches them, and stops them all (in reverse order) on the way out."""

    children: list[Child] = field(default_factory=list)
    cleanups: list[Callable[[], None]] = field(default_factory=list)

    def spawn(self, name: str, argv: list[str], env: Mapping[str, str], umask: int = -1) -> Child:
        """Start argv in its own session (with umask, if given, for the files it creates)."""
        proc = subprocess.Popen(argv, env=dict(env), start_new_session=True, umask=umask)
        child = Child(name, proc)
        self.children.append(child)
        log.info("started %s (pid %d)", name, proc.pid)
        return child

    def wait(self, stop: Callable[[], bool]) -> int:
        """Block until stop() or a child exits; returns the exit status to use."""
        while not stop():
            for child in self.children:
                code = child.proc.poll()
                if code is not None:
                    log.error("%s exited with status %s; shutting down", child.name, code)
                    return 1
            time.sleep(0.2)
        return 0

    def shutdown(self) -> None:
        """SIGTERM each child (last started first), SIGKILL whatever outlives the grace time."""
        for child in reversed(self.children):
            if child.proc.poll() is None:
                child.proc.send_signal(signal.SIGTERM)
                try:
                    child.proc.wait(STOP_GRACE_SECONDS)
                except subprocess.TimeoutExpired:
                    log.warning("%s did not stop in time; killing it", child.name)
                    os.killpg(child.proc.pid, signal.SIGKILL)
                    child.proc.wait()
            _stop_group(child.proc.pid)
        for cleanup in reversed(self.cleanups):
            cleanup()


def _stop_group(pgid: int) -> None:
    """Stop what outlived a child in its process group (a crashed worker's RQ scheduler, a
    killed gunicorn master's workers): SIGTERM, then SIGKILL after the grace time."""
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        return  # nothing left: the usual case
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    while time.monotonic() < deadline:
        time.sleep(0.1)
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
    log.warning("processes of group %d did not stop in time; killing them", pgid)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


# A hash whose every value fits hash-max-listpack-value is one compact listpack; one longer
# value makes it a hashtable with per-field overhead. RQ's call blob (about 85 bytes) and an
# event's outcome JSON (about 125) pass the default 64: at 256 a job hash takes 408 bytes, not
# 952, and a done event's hash 712, not 1,304 (docs/redis.md). compose.yaml and the image match.
REDIS_MEMORY_ARGS = ("--hash-max-listpack-value", "256")


def start_redis(sup: Supervisor, data_dir: Path) -> str:
    """An embedded redis-server on a unix socket in data_dir, AOF fsynced on every write.

    Its files hold every external id and audit row: data_dir is 0700 and redis-server runs
    with umask 077, so the AOF and RDB files it writes are 0600.
    """
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed (make run installs it with apt)")
    data_dir = data_dir.resolve()
    _private_dir(data_dir)
    sock = data_dir / "redis.sock"
    sup.spawn("redis", _redis_argv(binary, sock, data_dir), os.environ, umask=0o077)
    return _await_redis(f"unix://{sock}")


def _redis_argv(binary: str, sock: Path, data_dir: Path) -> list[str]:
    """redis-server on the unix socket only, every write fsynced, nothing ever evicted."""
    return [
        binary,
        "--port",
        "0",
        "--unixsocket",
        str(sock),
        "--unixsocketperm",
        "700",
        "--dir",
        str(data_dir),
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        "--maxmemory-policy",
        "noeviction",
        "--save",
        "",
        *REDIS_MEMORY_ARGS,
        # Its own log goes to a file beside its data: the console carries our lines only (one
        # JSON object each under LOG_FORMAT=json).
        "--logfile",
        str(data_dir / "redis.log"),
    ]


def _await_redis(url: str) -> str:
    """The url once the server answers PING (within 10 s), else RuntimeError."""
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            client.ping()
            return url
        except (redis.exceptions.ConnectionError, FileNotFoundError):
            time.sleep(0.05)
    raise RuntimeError("embedded redis-server did not start within 10 s (see var/redis/redis.log)")


def _private_dir(data_dir: Path) -> None:
    """Create data_dir 0700, or take group and other access off it and what it holds (files
    an older version left 0644); symlinks are left alone, never followed."""
    data_dir.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    data_dir.mkdir(mode=0o700, exist_ok=True)
    for path in [data_dir, *data_dir.rglob("*")]:
        mode = path.lstat().st_mode
        if not stat.S_ISLNK(mode) and mode & 0o077:
            path.chmod(stat.S_IMODE(mode) & 0o700)


def publish_url(sup: Supervisor, path: Path, url: str) -> None:
    """Keep the embedded Redis URL in path (0600) for operator commands, until shutdown."""
    write_private(path, url + "\n")
    sup.cleanups.append(lambda: path.unlink(missing_ok=True))


def write_private(path: Path, text: str) -> None:
    """Write text to path, readable by this user only from the moment it exists."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)


def sandbox_env(
    var_dir: Path, web_url: str, sandbox_url: str, redis_url: str | None
) -> dict[str, str]:
    """Environment for children talking to the sandbox; also written for send-test-event."""
    info = {
        "secret": "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode(),
        "token": "sandbox-" + secrets.token_hex(12),
        "sandbox_url": sandbox_url,
        "web_url": web_url,
        "redis_url": redis_url or "",
    }
    # It holds the sandbox's webhook secret and token.
    write_private(var_dir / "sandbox.json", json.dumps(info))
    return {
        "CONSUMER_SANDBOX": "1",
        "CONSUMER_SANDBOX_SECRET": info["secret"],
        "ZEEG_API_TOKEN": info["token"],
        "ZEEG_API_BASE_URL": sandbox_url,
    }


def command(*args: str) -> list[str]:
    """argv for another zeeg-consumer command with this interpreter."""
    return [sys.executable, "-m", "consumer", *args]
