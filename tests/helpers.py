"""Test helpers: a real redis-server, settings builders, signed requests, a draining worker."""

from __future__ import annotations

import contextlib
import functools
import json
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis
from flask import Flask
from flask.testing import FlaskClient
from rq import SimpleWorker, Worker
from rq.registry import ScheduledJobRegistry
from rq.serializers import JSONSerializer
from werkzeug.serving import make_server
from werkzeug.test import TestResponse

from consumer import intake, sources
from consumer.delivery import jobs
from consumer.delivery.context import Context
from consumer.delivery.gate import DeliveryGate
from consumer.devtools.sandbox import Sandbox
from consumer.models import Mapping, ParsedEvent
from consumer.queue import erasure_queue
from consumer.settings import Settings, settings_from_dict
from consumer.store import mappings, metrics
from consumer.store.connection import Connections
from consumer.zeeg.client import ZeegClient

ADMIN_TOKEN = "admin-test-token"
HMAC_SECRET = "hmac-test-secret"
STD_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
ZEEG_TOKEN = "zeeg-test-token"
# Retries fast enough for a test to watch them all.
FAST_DELIVERY = {
    "backoff_base_seconds": 0.05,
    "backoff_max_seconds": 0.2,
    "max_attempts": 4,
    "auth_probe_seconds": 0.5,
}


@contextlib.contextmanager
def serve(app: Flask) -> Iterator[str]:
    """app served over real HTTP (threaded werkzeug server) on a free port; yields its URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def free_port() -> int:
    """A TCP port that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class RedisServer:
    """A real redis-server in a temporary directory, startable and stoppable."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed (make test installs it)"
        self.directory.mkdir(parents=True, exist_ok=True)
        argv = [
            binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "yes",
            "--dir",
            str(self.directory),
        ]
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url)
        for _ in range(200):
            try:
                client.ping()
                return self
            except redis.exceptions.ConnectionError:
                time.sleep(0.025)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None


def make_settings(
    zeeg_url: str = "http://127.0.0.1:9/v2",
    sources_toml: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
    **sections: dict[str, Any],
) -> Settings:
    """Settings with the two test sources unless others are given; fast retries."""
    raw: dict[str, Any] = {
        "delivery": dict(FAST_DELIVERY),
        "sources": sources_toml if sources_toml is not None else default_sources(),
    }
    for name, values in sections.items():
        raw[name] = {**raw.get(name, {}), **values}
    base_env = {
        "USERDB_SECRET": HMAC_SECRET,
        "CLERK_SECRET": STD_SECRET,
        "ZEEG_API_TOKEN": ZEEG_TOKEN,
        "ZEEG_API_BASE_URL": zeeg_url,
    }
    return settings_from_dict(raw, {**base_env, **(env or {})}, "test.toml")


def default_sources() -> dict[str, Any]:
    """An hmac-sha256 source (userdb) and a standard-webhooks source (clerk-like)."""
    return {
        "userdb": {
            "scheme": "hmac-sha256",
            "secret_env": "USERDB_SECRET",
            "signature_header": "X-Signature",
            "event_types": ["contact.deleted"],
            "event_id": "id",
            "event_type": "type",
            "external_id": "data.contact_id",
            "occurred_at": "created_at",
            "targets": [{"object": "contacts"}],
        },
        "std": {
            "scheme": "standard-webhooks",
            "secret_env": "CLERK_SECRET",
            "event_types": ["user.deleted"],
            "event_id": "header:webhook-id",
            "event_type": "type",
            "external_id": "data.id",
            "targets": [{"object": "customers", "resolve": ["payload:data.zeeg_id", "store"]}],
        },
    }


def userdb_body(event_id: str, external_id: str, **extra: Any) -> bytes:
    """A userdb contact.deleted body."""
    body = {
        "id": event_id,
        "type": "contact.deleted",
        "created_at": int(time.time()),
        "data": {"contact_id": external_id},
        **extra,
    }
    return json.dumps(body).encode()


def signed(settings: Settings, source: str, body: bytes, msg_id: str = "msg_1") -> dict[str, str]:
    """Headers (content type and signature) for body from source."""
    src = settings.sources[source]
    headers = sources.sign_headers(src, body, msg_id, int(time.time()))
    return {"Content-Type": "application/json", **headers}


def webhook(
    client: FlaskClient,
    source: str,
    body: bytes,
    headers: dict[str, str] | None = None,
    content_type: str | None = "application/json",
) -> TestResponse:
    """POST body to /webhooks/<source>: the content type (None: no such header), then headers."""
    base = {} if content_type is None else {"Content-Type": content_type}
    return client.post(f"/webhooks/{source}", data=body, headers={**base, **(headers or {})})


def post(
    client: FlaskClient, settings: Settings, event_id: str, external_id: str, **extra: Any
) -> None:
    """Deliver one signed userdb deletion webhook (extra: more body fields); it must be 202."""
    body = userdb_body(event_id, external_id, **extra)
    answer = client.post("/webhooks/userdb", data=body, headers=signed(settings, "userdb", body))
    assert answer.status_code == 202, answer.get_data(as_text=True)


def post_two_and_drain(client: FlaskClient, settings: Settings, conns: Connections) -> None:
    """Post e-1 (for u-1) and e-2 (for u-2), then deliver both."""
    post(client, settings, "e-1", "u-1")
    post(client, settings, "e-2", "u-2")
    drain(settings, conns)


def mapped(conns: Connections, sandbox: Sandbox, external_id: str) -> str:
    """A sandbox contact mapped to external_id; returns its record id."""
    (rid,) = sandbox.state.seed("contacts", [{}])
    mappings.put(conns.text, Mapping("userdb", "contacts", external_id, rid, 1.0))
    return rid


def failed_events(
    client: FlaskClient,
    settings: Settings,
    conns: Connections,
    sandbox: Sandbox,
    *numbers: int,
    recover: bool = False,
) -> list[str]:
    """Events e-N for mapped people u-N that Zeeg refused with a 400 (failed jobs); record ids.

    recover clears the fault afterwards, so a requeue or replay can deliver them.
    """
    rids = [mapped(conns, sandbox, f"u-{i}") for i in numbers]
    sandbox.state.set_faults(always={"status": 400})
    for i in numbers:
        post(client, settings, f"e-{i}", f"u-{i}")
    drain(settings, conns)
    if recover:
        sandbox.state.set_faults(always=None)
    return rids


def deletes(sandbox: Sandbox, status: int | None = None) -> list[dict[str, Any]]:
    """The DELETE requests in the sandbox's log, oldest first (only those answered status)."""
    calls = [r for r in sandbox.state.requests() if r["method"] == "DELETE"]
    return [r for r in calls if status is None or r["status"] == status]


CONTACTS = ("contacts",)


def accept_event(
    conns: Connections,
    event_id: str,
    external_id: str,
    now: float,
    *,
    occurred_at: float | None = None,
    dedupe_ttl_days: float = 1,
    retention_days: float = 1,
    job_timeout: int = 60,
) -> None:
    """Accept a userdb contact.deleted event for contacts through intake, as a webhook would."""
    event = ParsedEvent(
        "userdb", event_id, "contact.deleted", external_id, occurred_at, ("contacts",)
    )
    queue = erasure_queue(conns.raw)
    intake.accept(
        conns.text,
        queue,
        event,
        now=now,
        dedupe_ttl_days=dedupe_ttl_days,
        retention_days=retention_days,
        job_timeout=job_timeout,
    )


def context(settings: Settings, conns: Connections) -> Context:
    """A delivery context on the test Redis, its Zeeg client behind the delivery gate."""
    observe = functools.partial(metrics.zeeg_call, conns.text)  # as jobs.build_context does
    zeeg = ZeegClient(settings.zeeg, gate=DeliveryGate(conns.text, settings), observe=observe)
    return Context(settings, conns.text, erasure_queue(conns.raw), zeeg)


def drain(
    settings: Settings,
    conns: Connections,
    timeout: float = 20.0,
    *,
    run_for: float | None = None,
    scheduler: bool = True,
    in_process: bool = False,
) -> None:
    """Run burst RQ workers until nothing is queued or scheduled, or for run_for seconds (0: once).

    in_process runs jobs in this process (SimpleWorker, DEBUG logs) so caplog sees them.
    """
    jobs.set_context(context(settings, conns))
    queue = erasure_queue(conns.raw)
    scheduled = ScheduledJobRegistry(queue=queue)
    worker_class = SimpleWorker if in_process else Worker
    deadline = time.monotonic() + (timeout if run_for is None else run_for)
    try:
        while True:
            worker = worker_class([queue], connection=conns.raw, serializer=JSONSerializer)
            level = "DEBUG" if in_process else "WARNING"
            worker.work(burst=True, with_scheduler=scheduler, logging_level=level)
            if run_for is None and len(queue) == 0 and scheduled.count == 0:
                return
            if time.monotonic() >= deadline:
                break
            time.sleep(0.05)
        if run_for is None:
            raise AssertionError("jobs still queued or scheduled after the timeout")
    finally:
        jobs.set_context(None)


# --- senders (issue 3): one source per preset and per scheme ---------------------------

SENDER_ENV = {
    "CLERK_SECRET": STD_SECRET,
    "STRIPE_SECRET": "whsec_stripe_test_secret",
    "WORKOS_SECRET": "workos-test-secret",
    "AUTH0_TOKEN": "auth0-test-token",
    "OKTA_TOKEN": "okta-event-hook-test-token",
    "SUPABASE_TOKEN": "supabase-test-token",
    "KEYCLOAK_SECRET": "keycloak-test-secret",
    "GITHUB_SECRET": "github-test-secret",
}


def svix_headers(
    sign: Callable[[str, datetime, str], str], msg_id: str, raw: str, prefix: str
) -> dict[str, str]:
    """`<prefix>-id/-timestamp/-signature` headers for `raw`, signed now by a Svix-style `sign`."""
    now = datetime.now(tz=UTC)
    return {
        f"{prefix}-id": msg_id,
        f"{prefix}-timestamp": str(int(now.timestamp())),
        f"{prefix}-signature": sign(msg_id, now, raw),
    }


def sender_sources() -> dict[str, Any]:
    """One source per preset (named after it) plus an unsigned one, all targeting contacts."""
    contacts = [{"object": "contacts"}]

    def signed(preset: str, secret_env: str, **more: Any) -> dict[str, Any]:
        return {"preset": preset, "secret_env": secret_env, **more, "targets": contacts}

    return {
        "clerk": signed("clerk", "CLERK_SECRET"),
        "stdhooks": signed("standard-webhooks", "CLERK_SECRET"),
        "stripe": signed("stripe", "STRIPE_SECRET"),
        "workos": signed("workos", "WORKOS_SECRET"),
        "auth0logs": signed("auth0-log-stream", "AUTH0_TOKEN"),
        "auth0events": signed("auth0-event-stream", "AUTH0_TOKEN"),
        "okta": signed("okta", "OKTA_TOKEN"),
        "supabase": signed("supabase", "SUPABASE_TOKEN"),
        "keycloak": signed("keycloak", "KEYCLOAK_SECRET"),
        "github": signed(
            "github-style",
            "GITHUB_SECRET",
            event_type="action",
            event_types=["deleted"],
            external_id="contact.id",
        ),
        "unsigned": {
            "scheme": "none",
            "insecure_allow_unsigned": True,
            "event_types": ["contact.deleted"],
            "event_id": "id",
            "external_id": "data.id",
            "targets": contacts,
        },
    }


def sender_settings(env: dict[str, str] | None = None, **overrides: Any) -> Settings:
    """Settings with the sender sources; overrides replace keys of named sources."""
    table = sender_sources()
    for name, keys_ in overrides.items():
        table[name] = {**table[name], **keys_}
    return make_settings(sources_toml=table, env={**SENDER_ENV, **(env or {})})


def stored_keys(conns: Connections) -> list[str]:
    """Every key in Redis except the request counters: what a refused webhook must not add."""
    from consumer.store import keys

    return sorted(k for k in conns.text.keys("*") if k != keys.METRICS)


def okta_body(*events_: dict[str, Any]) -> bytes:
    """An Okta event hook delivery carrying events_ in data.events."""
    return json.dumps(
        {
            "eventType": "com.okta.event_hook",
            "eventTypeVersion": "1.0",
            "cloudEventsVersion": "0.1",
            "source": "https://example.okta.com/api/v1/eventHooks/who8",
            "eventId": "b5a188b9-5ece-4636-b041-482ffda96311",
            "eventTime": "2024-03-01T10:00:00.000Z",
            "contentType": "application/json",
            "data": {"events": list(events_)},
        }
    ).encode()


def okta_event(uuid: str, user_id: str, kind: str = "user.lifecycle.delete.initiated") -> Any:
    """One Okta System Log event about a user."""
    return {
        "uuid": uuid,
        "published": "2024-03-01T09:59:59.000Z",
        "eventType": kind,
        "target": [{"id": user_id, "type": "User", "alternateId": "someone@example.com"}],
    }


# --- operator commands (issue 6) ---


def toml_value(value: Any) -> str:
    """A Python value as a TOML value (strings, numbers, booleans, lists, inline tables)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"


def toml_text(sections: dict[str, dict[str, Any]]) -> str:
    """A TOML text: one [table] per entry (dotted names like sources.userdb), then its keys."""
    lines = []
    for name, values in sections.items():
        lines += [f"[{name}]", *(f"{k} = {toml_value(v)}" for k, v in values.items())]
    return "\n".join(lines) + "\n"


def userdb_toml(**extra: Any) -> str:
    """A config text with only a plain hmac-sha256 userdb source (plus `extra` keys in it)."""
    source = {"scheme": "hmac-sha256", "secret_env": "USERDB_SECRET", **extra}
    source |= {"event_types": ["contact.deleted"], "event_id": "id"}
    source |= {"external_id": "data.contact_id", "targets": [{"object": "contacts"}]}
    return toml_text({"sources.userdb": source})


def write_config(path: Path, **sections: dict[str, Any]) -> Path:
    """A config file like make_settings(): the test sources and fast retries (plus sections)."""
    raw: dict[str, dict[str, Any]] = {"delivery": dict(FAST_DELIVERY)}
    for name, values in sections.items():
        raw[name] = {**raw.get(name, {}), **values}
    raw.update({f"sources.{name}": body for name, body in default_sources().items()})
    path.write_text(toml_text(raw), encoding="utf-8")
    return path


def cli_env(config: Path, zeeg_url: str, redis_url: str, **extra: str) -> dict[str, str]:
    """The environment a CLI test runs zeeg-consumer under."""
    return {
        "CONSUMER_CONFIG": str(config),
        "REDIS_URL": redis_url,
        "USERDB_SECRET": HMAC_SECRET,
        "CLERK_SECRET": STD_SECRET,
        "ZEEG_API_TOKEN": ZEEG_TOKEN,
        "ZEEG_API_BASE_URL": zeeg_url,
        **extra,
    }


# --- bad input (issue 9): digits that are not ASCII, a lone surrogate ---

SUPERSCRIPT = str.maketrans(
    "0123456789", "\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079"
)
ARABIC = str.maketrans("0123456789", "".join(chr(0x0660 + d) for d in range(10)))
FULL_WIDTH = str.maketrans("0123456789", "".join(chr(0xFF10 + d) for d in range(10)))
UNICODE_DIGITS = [
    "\u00b2",  # superscript two
    "\u2460",  # circled one
    "1733000000".translate(SUPERSCRIPT),
    "1733000000".translate(ARABIC),
    "1733000000".translate(FULL_WIDTH),
]
SURROGATE = "\ud800"
