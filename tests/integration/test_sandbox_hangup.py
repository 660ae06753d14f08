"""The sandbox's request log when the caller hangs up before the answer (a killed worker)."""

from __future__ import annotations

import socket
import struct
import time
from urllib.parse import urlsplit

from consumer.devtools.sandbox import Sandbox
from tests.helpers import ZEEG_TOKEN


def test_a_delete_whose_caller_hung_up_is_still_logged_with_its_status(sandbox: Sandbox) -> None:
    """The record is gone and the log says 200, though the caller never read the answer."""
    (rid,) = sandbox.state.seed("contacts", [{}])
    sandbox.state.set_faults(latency_ms=300)
    url = urlsplit(sandbox.url)
    request = (
        f"DELETE {url.path}/crm/contacts/{rid} HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer {ZEEG_TOKEN}\r\nContent-Length: 0\r\n\r\n"
    )
    with socket.create_connection((url.hostname, url.port)) as conn:
        conn.sendall(request.encode())
        # Linger 0: close with a reset, as the kernel does for a SIGKILLed process mid-call.
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    time.sleep(0.8)
    assert rid not in sandbox.state.records["contacts"]
    assert [(r["method"], r["status"]) for r in sandbox.state.requests()] == [("DELETE", 200)]
