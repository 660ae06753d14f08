"""Slow and lying clients cannot take intake offline: `zeeg-consumer web` under gunicorn."""

from __future__ import annotations

import contextlib
import http.client
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from consumer.store import events
from consumer.store.connection import Connections
from consumer.web.server import REQUEST_READ_SECONDS, STALL_SECONDS
from tests.bench.bench_slow_clients import (
    open_slow,
    partial_request,
    timed_healthz,
    timed_webhook,
    web_server,
)
from tests.helpers import RedisServer

SLOW = 100
LEGITIMATE = 10


@pytest.fixture(scope="module")
def web_url(tmp_path_factory: pytest.TempPathFactory, redis_server: RedisServer) -> Iterator[str]:
    """The web app started exactly as `zeeg-consumer web` starts it, on a free loopback port."""
    with web_server(Path(tmp_path_factory.mktemp("web")), redis_server.url) as url:
        yield url


def _send(url: str, data: bytes) -> socket.socket:
    """A connection to url that has sent data."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=5)
    sock.sendall(data)
    return sock


def _answer(sock: socket.socket, within: float) -> bytes:
    """What the server sends before closing (b"" if it only closes), within seconds."""
    sock.settimeout(within)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass
    return data


def test_webhooks_and_healthz_answer_within_a_second_while_100_slow_clients_hold_on(
    web_url: str, conns: Connections
) -> None:
    """Half-sent requests (headers cut, or a body short of Content-Length) block nobody else."""
    held = open_slow(web_url, SLOW)
    try:
        time.sleep(0.3)  # the server has picked them all up
        for n in range(LEGITIMATE):
            took, status = timed_webhook(web_url, f"evt-slow-{n}")
            assert (status, took < 1.0) == (202, True), f"webhook {n}: {status} in {took:.2f} s"
            assert events.load(conns.text, "userdb", f"evt-slow-{n}") is not None
        took, status = timed_healthz(web_url)
        assert (status, took < 1.0) == (200, True), f"/healthz: {status} in {took:.2f} s"
    finally:
        for sock in held:
            sock.close()
    took, status = timed_healthz(web_url)
    assert (status, took < 1.0) == (200, True), f"/healthz after: {status} in {took:.2f} s"


def _healthz_on(kept: http.client.HTTPConnection) -> socket.socket | None:
    """GET /healthz on kept (200 asserted); its socket after, None once the server closed it."""
    kept.request("GET", "/healthz")
    answer = kept.getresponse()
    answer.read()
    assert answer.status == 200
    sock: socket.socket | None = kept.sock
    return sock


def _trickle_until_cut(
    trickle: socket.socket, kept: http.client.HTTPConnection
) -> tuple[float, set[socket.socket | None]]:
    """Seconds until the server closes trickle, fed a header byte a second; meanwhile kept
    asks for /healthz every 3 s and once more after, past a single request's deadline."""
    start, used = time.monotonic(), set()
    trickle.settimeout(1)
    for n, byte in enumerate(partial_request(0)[: int(REQUEST_READ_SECONDS + STALL_SECONDS) + 2]):
        if n % 3 == 0:
            used.add(_healthz_on(kept))
        trickle.sendall(bytes([byte]))
        with contextlib.suppress(TimeoutError):  # a second without an answer: go on
            if trickle.recv(1) == b"":
                break  # the server closed it
    took = time.monotonic() - start
    used.add(_healthz_on(kept))
    return took, used


def test_a_request_never_completed_gets_a_400_or_a_close_within_its_deadline_never_a_500(
    web_url: str,
) -> None:
    """Cut headers: closed; short body, client waiting or hung up: 400; trickling: closed."""
    cut_headers, waiting, hung_up = (_send(web_url, partial_request(n)) for n in (0, 1, 1))
    trickle = _send(web_url, b"")
    kept = http.client.HTTPConnection(web_url.removeprefix("http://"), timeout=2)
    socks = [cut_headers, waiting, hung_up, trickle]
    hung_up.shutdown(socket.SHUT_WR)
    try:
        trickled, used = _trickle_until_cut(trickle, kept)
        assert trickled < REQUEST_READ_SECONDS + STALL_SECONDS + 1, "the trickle was never cut"
        assert len(used) == 1 and None not in used, "kept alive: one connection for all"
        assert _answer(hung_up, 1).startswith(b"HTTP/1.1 400 ")
        assert _answer(waiting, 1).startswith(b"HTTP/1.1 400 ")
        assert _answer(cut_headers, 1) == b""
    finally:
        for sock in socks:
            sock.close()
        kept.close()
    took, status = timed_healthz(web_url)
    assert (status, took < 1.0) == (200, True), f"/healthz after: {status} in {took:.2f} s"
