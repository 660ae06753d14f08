"""POST /webhooks/<source> for one signed event, answered before Flask's request machinery.

Flask's request context, routing, session, hooks and jsonify cost about 200 us per webhook
(docs/benchmarks.md), more than verifying and parsing the event. This WSGI layer answers
only what it can answer exactly as the view in web/webhooks.py does: a POST to a configured
source that takes one event per request, with a JSON body of a known length within the
limit, whose signature and event check out and whose event is accepted or a duplicate. The
answer is the view's (the same status, headers and body, its metrics written by the intake
script).

Everything else goes to Flask, untouched but for the body, which is handed back to be read
again: another path or method, a chunked or oversized body, another content type, a batch
source, a refused signature, a bad or ignored event; the view takes this layer's verdict on
the signature (VERIFIED) rather than verifying the request again. A failure while storing
(Redis down or full) goes to Flask too, which raises it where the view stores the event
(FAILED), so its error handlers, logs and metrics answer it as before; nothing is stored
twice.
"""

from __future__ import annotations

import io
import json
import time
from typing import TYPE_CHECKING, Any

from flask import Flask
from werkzeug.datastructures import EnvironHeaders

from consumer.errors import SignatureError
from consumer.models import ParsedEvent
from consumer.settings import SourceConfig
from consumer.sources import Verified, verify
from consumer.sources.parse import read
from consumer.web.state import AppState, state
from consumer.web.webhooks import FAILED, VERIFIED, intake_tally

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

PREFIX = "/webhooks/"
JSON = "application/json"
STATUS = {"accepted": "202 ACCEPTED", "duplicate": "200 OK"}  # as werkzeug spells them


class WebhookFastPath:
    """WSGI middleware: one-event webhooks answered here, every other request by Flask."""

    def __init__(self, app: WSGIApplication, flask_app: Flask) -> None:
        self.app, self.flask_app = app, flask_app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Any:
        """Answer the request here if it is a one-event webhook that is stored, else in Flask."""
        started = time.perf_counter()
        app_state = state(self.flask_app)
        src = _source(environ, app_state, self.flask_app.config.get("MAX_CONTENT_LENGTH"))
        if src is not None:
            body = _body(environ)
            answer = None if body is None else _answer(app_state, src, body, environ, started)
            if answer is not None:
                status, payload = answer
                length = str(len(payload))
                start_response(status, [("Content-Type", JSON), ("Content-Length", length)])
                return [payload]
        return self.app(environ, start_response)


def _source(
    environ: WSGIEnvironment, app_state: AppState, limit: int | None
) -> SourceConfig | None:
    """The source of a request this layer may answer, None for any other request."""
    path = environ.get("PATH_INFO", "")
    if environ.get("REQUEST_METHOD") != "POST" or not path.startswith(PREFIX):
        return None
    # A source name holds no "/": a longer path (or a trailing slash) misses, as in routing.
    src = app_state.settings.sources.get(path[len(PREFIX) :])
    if src is None or src.options.get("batch"):
        return None
    content_type = environ.get("CONTENT_TYPE", "")
    length = environ.get("CONTENT_LENGTH", "")
    # Flask's request.is_json reads the type before any ";"; a chunked body has no length
    # (Flask counts it against the limit as it reads), and too long a body is Flask's 413.
    if content_type.split(";", 1)[0].strip().lower() != JSON:
        return None
    if not (length.isascii() and length.isdigit()):
        return None
    return None if limit is not None and int(length) > limit else src


class _Unread(io.RawIOBase):
    """A body whose reading failed: Flask's read fails the same way (its 400)."""

    def __init__(self, error: OSError) -> None:
        super().__init__()
        self.error = error

    def readable(self) -> bool:
        """A stream to read from (which raises)."""
        return True

    def readinto(self, buffer: Any) -> int:
        """Raise the error the server's stream raised."""
        raise self.error


def _body(environ: WSGIEnvironment) -> bytes | None:
    """The body, also put back as wsgi.input for Flask; None if it came short (Flask's 400)."""
    length = int(environ["CONTENT_LENGTH"])
    try:
        body: bytes = environ["wsgi.input"].read(length)
    except OSError as e:  # the server's read deadline, or the client hung up (web/server.py)
        environ["wsgi.input"] = _Unread(e)
        return None
    environ["wsgi.input"] = io.BytesIO(body)
    return body if len(body) == length else None


def _verdict(
    src: SourceConfig, body: bytes, environ: WSGIEnvironment, now: float
) -> Verified | None:
    """sources.verify's verdict, also left in environ for the view; None if it refused."""
    # The view's headers: werkzeug's names from the environ, lower-cased.
    headers = {k.lower(): v for k, v in EnvironHeaders(environ).items()}
    try:
        verified = verify(src, body, headers, now)
    except SignatureError as e:
        environ[VERIFIED] = e
        return None
    environ[VERIFIED] = verified  # for the view if Flask is to answer (an ignored event...)
    return verified


def _answer(
    app_state: AppState, src: SourceConfig, body: bytes, environ: WSGIEnvironment, started: float
) -> tuple[str, bytes] | None:
    """The view's status and body for a stored event; None when Flask is to answer."""
    now = app_state.clock()
    try:
        verified = _verdict(src, body, environ, now)
        parsed = None if verified is None else read(src, body, verified.headers)
    # A bad body (ConsumerError), or anything unforeseen: the view meets it again, and Flask
    # answers and counts it as it always did.
    except Exception:
        return None
    if parsed is None:
        return None  # a refused signature: the view raises the verdict and counts it
    (item,) = parsed.items  # not a batch source: one item
    if not isinstance(item, ParsedEvent):
        return None  # an ignored event, counted by the view
    try:
        result = app_state.intake.accept(item, now, intake_tally(src.name, started))
    except Exception as e:  # any failure: the view raises it again, so Flask answers it
        environ[FAILED] = e
        return None
    # Flask's jsonify: sorted keys, compact separators, ASCII, one newline at the end.
    payload = json.dumps(result.answer(), separators=(",", ":"), sort_keys=True) + "\n"
    return STATUS[result.status], payload.encode()
