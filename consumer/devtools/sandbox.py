"""The fake Zeeg: a real HTTP server for the CRM record endpoints, with scriptable faults.

Run it in a thread (tests), from `zeeg-consumer run --sandbox`, or alone (`zeeg-consumer
sandbox`). Zeeg's API lives under /v2; the control API under /_sandbox (no token: bind it
to loopback). This module is the HTTP side; the records, the fault switches (described in
sandbox_state) and the request log live in SandboxState, the CRM answers in sandbox_crm.
"""

from __future__ import annotations

import email.utils
import hmac
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from consumer.devtools.sandbox_crm import answer
from consumer.devtools.sandbox_state import SandboxState


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    # Headers and body leave in two sends: with Nagle on, the client's delayed ACK held the
    # second for about 40 ms on every kept-alive request.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            self._send(400, {"success": False, "status": 400, "message": "Malformed JSON."})
            return
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path.startswith("/_sandbox/"):
            self._control(method, url.path[len("/_sandbox/") :], body, query)
        elif url.path.startswith("/v2/crm/"):
            self._crm(method, url.path[len("/v2/crm/") :].strip("/").split("/"), body, query)
        else:
            self._send(404, {"error": "Not found."})

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        try:
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            # The client hung up (killed mid-call): the call took effect, so it is still logged.
            self.close_connection = True

    def _error(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        if self.server.state.faults["error_shape"] == "error":
            body: dict[str, Any] = {"error": message}
        else:
            body = {"success": False, "status": status, "message": message}
        self._send(status, body, headers)

    def _control(self, method: str, path: str, body: Any, query: dict[str, str]) -> None:
        state = self.server.state
        if (method, path) == ("GET", "requests"):
            self._send(200, state.requests())
        elif (method, path) == ("DELETE", "requests"):
            with state.lock:
                state.log.clear()
            self._send(200, {"cleared": True})
        elif (method, path) == ("POST", "records"):
            ids = state.seed(str(body.get("object", "")), list(body.get("records", [])))
            self._send(201, {"ids": ids})
        elif (method, path) == ("GET", "records"):
            with state.lock:
                found = list(state.records.get(query.get("object", ""), {}).values())
            self._send(200, found)
        elif (method, path) in (("PUT", "faults"), ("POST", "faults")):
            try:
                state.set_faults(**body)
            except (TypeError, ValueError) as e:
                self._send(400, {"error": str(e)})
                return
            self._send(200, state.faults)
        elif (method, path) == ("GET", "faults"):
            self._send(200, state.faults)
        elif (method, path) == ("GET", "stats"):
            with state.lock:
                stats = {
                    "connections": state.connections,
                    "max_in_flight": state.max_in_flight,
                    "faults": dict(state.fault_counts),
                }
            self._send(200, stats)
        elif (method, path) == ("POST", "reset"):
            state.reset()
            self._send(200, {"reset": True})
        else:
            self._send(404, {"error": "Unknown control call."})

    def _crm(self, method: str, parts: list[str], body: Any, query: dict[str, str]) -> None:
        state = self.server.state
        started = time.time()
        state.call_started()
        try:
            status = self._crm_answer(method, parts, body, query)
        finally:
            state.call_ended()
        entry = {
            "at": started,
            "method": method,
            "path": "/crm/" + "/".join(parts),
            "status": status,
        }
        with state.lock:
            state.log.append(entry)

    def _crm_answer(
        self, method: str, parts: list[str], body: Any, query: dict[str, str]
    ) -> int | None:
        state = self.server.state
        offered = self.headers.get("Authorization", "").encode()
        if not hmac.compare_digest(offered, f"Bearer {state.token}".encode()):
            self._error(401, "Unauthenticated.")
            return 401
        time.sleep(float(state.faults["latency_ms"]) / 1000.0)
        fault = state.next_fault(method, "/crm/" + "/".join(parts))
        if fault is not None and fault.get("answer"):
            time.sleep(float(fault.get("delay_ms") or 0) / 1000.0)  # slow, but it takes effect
        elif fault is not None:
            return self._fault(fault)
        status, payload = answer(state, method, parts, body, query)
        if status >= 400:
            self._error(status, str(payload))
        else:
            self._send(status, payload)
        return status

    def _fault(self, fault: dict[str, Any]) -> int | None:
        if fault.get("delay_ms"):
            time.sleep(float(fault["delay_ms"]) / 1000.0)
        if fault.get("drop"):
            self.close_connection = True
            return None
        status = int(fault.get("status") or 500)
        headers = {}
        hint = fault.get("retry_after")
        if isinstance(hint, str) and hint.startswith("date:"):
            when = time.time() + float(hint[len("date:") :])
            headers["Retry-After"] = email.utils.formatdate(when, usegmt=True)
        elif hint is not None:
            headers["Retry-After"] = str(hint)
        self._error(status, fault.get("message") or "Injected fault.", headers)
        return status


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: SandboxState

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.state.lock:
            self.state.connections += 1
        super().process_request(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (its read timeout) is part of the game, not an error.
        if isinstance(sys.exc_info()[1], BrokenPipeError | ConnectionResetError):
            return
        super().handle_error(request, client_address)


class Sandbox:
    """A running fake Zeeg; `url` is the ZEEG_API_BASE_URL to point the service at."""

    def __init__(self, token: str, host: str = "127.0.0.1", port: int = 0) -> None:
        self.state = SandboxState(token)
        self._server = _Server((host, port), _Handler)
        self._server.state = self.state
        self._thread: threading.Thread | None = None

    @property
    def root(self) -> str:
        """http://host:port"""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def url(self) -> str:
        """The API base URL (with /v2)."""
        return self.root + "/v2"

    def start(self) -> Sandbox:
        """Serve in a daemon thread."""
        # A short poll interval makes stop() quick (shutdown waits for one poll).
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until interrupted."""
        self._server.serve_forever()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()
