"""How gunicorn serves the app, in one place: worker model, limits and read deadlines.

Threaded workers (gunicorn's gthread) with THREADS threads each: a client that sends half a
request holds one thread, not a whole process, and only until its read deadline, after which
the connection is closed. A body shorter than its Content-Length is a 400 at the deadline (or
as soon as the client hangs up), never a 500. See README "Serving in production".
"""

from __future__ import annotations

import contextlib
import gc
import socket
import sys
import time
from typing import Any

from gunicorn import glogging, util  # type: ignore[import-untyped]
from gunicorn.http.errors import NoMoreData  # type: ignore[import-untyped]
from gunicorn.http.unreader import SocketUnreader  # type: ignore[import-untyped]
from gunicorn.workers import gthread  # type: ignore[import-untyped]

from consumer import logs
from consumer.settings.load import log_format

# Threads per worker process: each connection being read or served holds one, so this is
# how many slow clients a worker outlasts while still answering others at once.
THREADS = 128
# A whole request (headers and body) must arrive within this; a pause between two packets
# may last at most STALL_SECONDS. Legitimate senders send a webhook in one go.
REQUEST_READ_SECONDS = 10.0
STALL_SECONDS = 5.0
APP = "consumer.web:create_app()"
# The web timeout, chosen (docs/proxy.md): gunicorn's --timeout restarts a worker whose main
# loop has not checked in for this long. With threaded workers requests run in threads, so it
# bounds a stuck process, not a request: no view is slow by design (a large replay is a
# background job, the audit export streams), and a request's reading is bounded above.
WORKER_TIMEOUT_SECONDS = 30
# On SIGTERM, in-flight requests get this long to finish: webhooks take milliseconds, an
# audit export streaming longer is cut (the operator re-runs it with a narrower since/until).
GRACEFUL_TIMEOUT_SECONDS = 30


def gunicorn_argv(host: str, port: int, workers: int, trusted_proxies: str = "") -> list[str]:
    """The gunicorn command line `zeeg-consumer web` (and so `run`) replaces itself with.

    trusted_proxies ([web]) is also gunicorn's --forwarded-allow-ips, so gunicorn believes
    X-Forwarded-Proto from the same proxies as the app (consumer/web/proxy.py); always given,
    so gunicorn's own FORWARDED_ALLOW_IPS variable and loopback default never apply.
    """
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "--workers",
        str(workers),
        "--worker-class",
        f"{__name__}.DeadlineThreadWorker",
        "--threads",
        str(THREADS),
        "--bind",
        f"{host}:{port}",
        "--access-logfile",
        "-",
        "--logger-class",
        f"{__name__}.ConsumerLogger",
        "--timeout",
        str(WORKER_TIMEOUT_SECONDS),
        "--graceful-timeout",
        str(GRACEFUL_TIMEOUT_SECONDS),
        "--keep-alive",
        "5",
        "--forwarded-allow-ips",
        trusted_proxies,
        APP,
    ]


class RequestReadTimeout(NoMoreData, TimeoutError):  # type: ignore[misc]
    """The client did not send its request within the read deadline."""

    def __str__(self) -> str:
        return f"request not received within {REQUEST_READ_SECONDS:.0f} s"


class RequestCutShort(NoMoreData):  # type: ignore[misc]
    """The client closed before sending all of its request (a body short of Content-Length)."""

    def __str__(self) -> str:
        return "the client closed before the end of the request"


class _DeadlineUnreader(SocketUnreader):  # type: ignore[misc]
    """Socket reads that give up once the current request's deadline has passed."""

    def __init__(self, sock: Any) -> None:
        super().__init__(sock)
        self.deadline = time.monotonic() + REQUEST_READ_SECONDS

    def chunk(self, size_hint: int | None = None) -> bytes:
        """The next bytes of the request; raises past the deadline, on a stall, or at EOF."""
        if time.monotonic() > self.deadline:
            raise RequestReadTimeout()
        try:
            data: bytes = super().chunk(size_hint)
        except TimeoutError as e:  # the socket's STALL_SECONDS timeout
            raise RequestReadTimeout() from e
        # gunicorn asks only for bytes the request still owes (it never reads past a body), so
        # EOF is a request cut short; gunicorn would hand the app the truncated body as whole.
        # Raised, the app sees a disconnect (werkzeug: 400) and the parser a hang-up.
        if not data:
            raise RequestCutShort()
        return data


class _DeadlineConn(gthread.TConn):  # type: ignore[misc]
    """A connection whose every request is read against a fresh deadline."""

    def init(self) -> None:
        """Set up the parser once, then (for each request) the stall timeout and deadline."""
        super().init()
        unreader: Any = getattr(self.parser, "unreader", None)
        # HTTP/1 on a socket: gunicorn's default (http_protocols = "h1"), the only one we serve.
        if type(unreader) is SocketUnreader:
            fresh = _DeadlineUnreader(unreader.sock)
            fresh.buf = unreader.buf
            self.parser.unreader = unreader = fresh
        if isinstance(unreader, _DeadlineUnreader):
            unreader.deadline = time.monotonic() + REQUEST_READ_SECONDS
        self.sock.settimeout(STALL_SECONDS)

    def close(self, graceful: bool = False) -> None:
        """Close without waiting: gunicorn's graceful close lingers up to 2 s for the client's
        FIN on the worker's main loop, so a client that never closes would stall every other."""
        if graceful:
            # Send our FIN, and drop what the client sent and we did not read: closing with
            # unread bytes makes the kernel answer RST, which can cut our response short.
            with contextlib.suppress(OSError):
                self.sock.shutdown(socket.SHUT_WR)
                self.sock.setblocking(False)
                for _ in range(16):
                    if not self.sock.recv(4096):
                        break
        util.close(self.sock)


class DeadlineThreadWorker(gthread.ThreadWorker):  # type: ignore[misc]
    """gunicorn's threaded worker, reading each request against a deadline."""

    def load_wsgi(self) -> None:
        """Load the app, then freeze what it built out of the garbage collector's sight."""
        super().load_wsgi()
        # The app, its settings and every imported module live as long as the worker: a
        # full collection rescanning them paused a worker for up to 56 ms (a webhook takes
        # under 1 ms), which is the p99 of a whole run. Frozen, a full collection takes
        # about 0.5 ms (docs/benchmarks.md).
        gc.freeze()

    def accept(self, listener: Any) -> None:
        """Accept a connection and hand it to a thread (gthread's accept, our connection)."""
        try:
            client_sock, client_addr = listener.accept()
        except BlockingIOError:
            return  # another worker took it
        except ConnectionAbortedError:
            return
        self.nr_conns += 1
        conn = _DeadlineConn(self.cfg, client_sock, client_addr, listener.getsockname())
        self.enqueue_req(conn)


# The access log keeps this many segments of a path, each cut short: deeper ones (an external
# id in /admin/mappings/<source>/<object>/<external_id>) may be personal data. No query string.
LOGGED_SEGMENTS = 3
SEGMENT_CHARS = 64


def logged_path(path: str) -> str:
    """The part of a request path the access log shows: no query, no personal data, printable."""
    parts = path.split("/")
    shown = [p[:SEGMENT_CHARS] for p in parts[: LOGGED_SEGMENTS + 1]]
    text = "/".join(shown) + ("/..." if len(parts) > LOGGED_SEGMENTS + 1 else "")
    return "".join(c if c.isprintable() else "?" for c in text)


class ConsumerLogger(glogging.Logger):  # type: ignore[misc]
    """gunicorn's error and access logs in LOG_FORMAT, with the app's own records beside them.

    setup() runs in the master before it forks the workers, so they inherit the configuration.
    """

    def setup(self, cfg: Any) -> None:
        """gunicorn's handlers with our formatter, and every other logger through logs.py."""
        super().setup(cfg)
        fmt = log_format()
        logs.configure(fmt, "web", level=self.loglevel)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.setFormatter(logs.formatter(fmt, "web"))

    def access(self, resp: Any, req: Any, environ: Any, request_time: Any) -> None:
        """One line per request: client, method, path (see logged_path), status, duration."""
        if not self.access_log_enabled:
            return
        atoms = self.atoms(resp, req, environ, request_time)
        self.access_log.info(
            "%s %s %s %s %.1f ms",
            atoms.get("h", "-"),
            atoms.get("m", "-"),
            logged_path(str(atoms.get("U", ""))),
            atoms.get("s", "-"),
            int(atoms.get("D", 0)) / 1000,
        )
