"""The Zeeg client never follows a redirect: the Bearer token stays with the configured URL."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from consumer.errors import ZeegError, ZeegRejected
from consumer.settings import ZeegSettings
from consumer.zeeg.client import ZeegClient
from tests.helpers import ZEEG_TOKEN


class _Redirector(BaseHTTPRequestHandler):
    """Answers /v2/... with a redirect to /elsewhere, and /elsewhere with 200 {}."""

    def _answer(self) -> None:
        self.server.seen.append((self.command, self.path, self.headers.get("Authorization")))  # type: ignore[attr-defined]
        if self.path.startswith("/v2/"):
            self.send_response(self.server.status)  # type: ignore[attr-defined]
            self.send_header("Location", "/elsewhere")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = b'{"id": "x", "records": [], "record": {}}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_DELETE = do_PUT = do_POST = _answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(params=[301, 302, 307, 308])
def redirector(request: pytest.FixtureRequest) -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Redirector)
    server.seen = []  # type: ignore[attr-defined]
    server.status = request.param  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _client(server: ThreadingHTTPServer) -> ZeegClient:
    url = f"http://127.0.0.1:{server.server_address[1]}/v2"
    return ZeegClient(ZeegSettings(url, ZEEG_TOKEN, 1.0, 5.0, 0.0, 1, False))


def test_a_delete_answered_with_a_redirect_fails_and_is_not_followed(
    redirector: ThreadingHTTPServer,
) -> None:
    """A followed 3xx would count another URL's 200 as a deletion and carry the token there."""
    with pytest.raises(ZeegRejected):
        _client(redirector).delete_record("contacts", str(uuid.uuid4()))
    assert [m for m, _, _ in redirector.seen] == ["DELETE"]  # type: ignore[attr-defined]


def test_a_read_answered_with_a_redirect_fails_and_is_not_followed(
    redirector: ThreadingHTTPServer,
) -> None:
    """The token proof (GET object) does not follow a 3xx either, and fails visibly."""
    with pytest.raises(ZeegError):
        _client(redirector).get_object("contacts")
    assert [m for m, _, _ in redirector.seen] == ["GET"]  # type: ignore[attr-defined]
