"""Intake latency while slow clients hold connections open: the sync workers vs what `web` runs.

Starts the web app under gunicorn (the old two sync workers, then `zeeg-consumer web` as it
runs now), opens SLOW sockets that each send half a request and wait (incomplete headers, or
a Content-Length larger than the body sent), then times signed webhooks and GET /healthz sent
meanwhile. Prints p50 and max latency per configuration; a request not answered within
TIMEOUT seconds counts as TIMEOUT.

    .venv/bin/python -m tests.bench.bench_slow_clients [--slow 100] [--requests 20]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import requests

from tests.bench import wait_for_ok
from tests.helpers import (
    HMAC_SECRET,
    RedisServer,
    cli_env,
    free_port,
    make_settings,
    signed,
    userdb_body,
    write_config,
)

TIMEOUT = 5.0
# What `zeeg-consumer web` ran before the worker model was chosen: two sync workers.
OLD_SYNC_ARGV = ["--workers", "2", "--graceful-timeout", "30", "consumer.web:create_app()"]


@contextlib.contextmanager
def web_server(tmp: Path, redis_url: str, old_sync: bool = False) -> Iterator[str]:
    """The web app under gunicorn on a free loopback port: `zeeg-consumer web`, or the old argv."""
    port = free_port()
    env = {**os.environ, **cli_env(write_config(tmp / "c.toml"), "http://127.0.0.1:9", redis_url)}
    if old_sync:
        argv = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", *OLD_SYNC_ARGV]
    else:
        argv = [sys.executable, "-m", "consumer", "web", "--host", "127.0.0.1"]
        argv += ["--port", str(port)]
    with (tmp / "web.log").open("wb") as log:
        proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_healthy(url: str, proc: subprocess.Popen[bytes]) -> None:
    def still_up() -> None:
        assert proc.poll() is None, "gunicorn exited early"

    failure = AssertionError("web did not answer /healthz within 30 s")
    wait_for_ok(f"{url}/healthz", every=0.05, failure=failure, still_up=still_up)


def partial_request(n: int) -> bytes:
    """Half a request: every other one stops inside the headers, the rest lie about the body."""
    if n % 2 == 0:
        return b"POST /webhooks/userdb HTTP/1.1\r\nHost: x\r\nContent-Type: applic"
    return (
        b"POST /webhooks/userdb HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 5000\r\n\r\n" + b'{"id": "slow-' + str(n).encode()
    )


def open_slow(url: str, count: int) -> list[socket.socket]:
    """count connections, each having sent half a request and waiting."""
    host, port = url.removeprefix("http://").split(":")
    held = []
    for n in range(count):
        sock = socket.create_connection((host, int(port)), timeout=5)
        sock.sendall(partial_request(n))
        held.append(sock)
    return held


def timed_webhook(url: str, event_id: str) -> tuple[float, int]:
    """Seconds and status of one signed userdb webhook (status 0: not answered in TIMEOUT)."""
    settings = make_settings(env={"USERDB_SECRET": HMAC_SECRET})
    body = userdb_body(event_id, f"ext-{event_id}")
    start = time.monotonic()
    try:
        answer = requests.post(
            f"{url}/webhooks/userdb",
            data=body,
            headers=signed(settings, "userdb", body),
            timeout=TIMEOUT,
        )
    except requests.RequestException:
        return TIMEOUT, 0
    return time.monotonic() - start, answer.status_code


def timed_healthz(url: str) -> tuple[float, int]:
    """Seconds and status of GET /healthz (status 0: not answered in TIMEOUT)."""
    start = time.monotonic()
    try:
        answer = requests.get(f"{url}/healthz", timeout=TIMEOUT)
    except requests.RequestException:
        return TIMEOUT, 0
    return time.monotonic() - start, answer.status_code


def _measure(url: str, slow: int, count: int) -> list[float]:
    held = open_slow(url, slow)
    time.sleep(0.3)  # let the workers pick the slow connections up
    try:
        took = [timed_webhook(url, f"bench-{time.time_ns()}")[0] for _ in range(count)]
        return [*took, timed_healthz(url)[0]]
    finally:
        for sock in held:
            sock.close()


def main() -> None:
    """Print legitimate request latency p50/max with slow connections held, per config."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--slow", type=int, default=100)
    parser.add_argument("--requests", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        redis_server = RedisServer(Path(tmp) / "redis").start()
        try:
            for name, old in (("sync (old)", True), ("zeeg-consumer web", False)):
                with web_server(Path(tmp), redis_server.url, old_sync=old) as url:
                    took = _measure(url, args.slow, args.requests)
                print(
                    f"{name:20} slow={args.slow} requests={len(took)} "
                    f"p50={statistics.median(took) * 1000:.0f} ms max={max(took) * 1000:.0f} ms"
                    f" (timeouts at {TIMEOUT:.0f} s: {sum(t >= TIMEOUT for t in took)})",
                    flush=True,
                )
        finally:
            redis_server.stop()


if __name__ == "__main__":
    main()
