"""The retry policy through a real RQ worker: each answer class -> outcome and attempts."""

from __future__ import annotations

import http.server
import random
import threading
import time
from typing import Any

import pytest
from rq.registry import FailedJobRegistry

from consumer.delivery.policy import backoff, handle_delivery
from consumer.devtools.sandbox import Sandbox
from consumer.queue import erasure_queue
from consumer.settings import Settings
from consumer.store import events, pause
from consumer.store.connection import Connections
from tests.helpers import accept_event, context, default_sources, drain, make_settings
from tests.workers import accept_mapped


def _attempts(conns: Connections) -> list[Any]:
    return [a.get("status") for a in events.attempts(conns.text, "userdb", "evt-0")]


def _outcome(conns: Connections) -> str:
    (outcome,) = events.target_outcomes(conns.text, "userdb", "evt-0")["contacts"]
    return outcome.outcome


@pytest.mark.parametrize(
    ("script", "outcome", "attempts"),
    [
        ([], "deleted", [200]),
        ([{"status": 404}], "already_deleted", [404]),
        ([{"status": 429, "retry_after": "0"}], "deleted", [429, 200]),
        ([{"status": 429, "retry_after": "date:1"}], "deleted", [429, 200]),
        ([{"status": 429, "retry_after": None}], "deleted", [429, 200]),
        ([{"status": 500}], "deleted", [500, 200]),
        ([{"status": 502}, {"status": 503}, {"status": 504}], "deleted", [502, 503, 504, 200]),
        ([{"drop": True}], "deleted", [None, 200]),
        ([{"delay_ms": 900}], "deleted", [None, 200]),
    ],
    ids=["200", "404", "429-seconds", "429-date", "429-no-hint", "500", "5xx", "drop", "timeout"],
)
def test_answers_that_end_the_erasure(
    script: list[dict[str, Any]],
    outcome: str,
    attempts: list[int | None],
    sandbox: Sandbox,
    conns: Connections,
    settings: Settings,
) -> None:
    """Success, gone, and transient answers: the outcome and every attempt made, in order."""
    fast = make_settings(sandbox.url, zeeg={"read_timeout_seconds": 0.3})
    sandbox.state.set_faults(script=[{**f, "only": "DELETE"} for f in script])
    accept_mapped(fast, conns.text, conns.raw, sandbox, 1)
    drain(fast, conns)
    assert (_outcome(conns), _attempts(conns)) == (outcome, attempts)
    assert events.load(conns.text, "userdb", "evt-0").status == "done"  # type: ignore[union-attr]


@pytest.mark.parametrize("status", [400, 409, 422])
def test_other_client_errors_fail_at_once_with_the_reason(
    status: int, sandbox: Sandbox, conns: Connections, settings: Settings
) -> None:
    """Another 4xx: one attempt, the job in the failed registry, the reason kept."""
    sandbox.state.set_faults(script=[{"status": status, "message": "Bad thing."}])
    accept_mapped(settings, conns.text, conns.raw, sandbox, 1)
    drain(settings, conns)
    event = events.load(conns.text, "userdb", "evt-0")
    assert event is not None
    assert (event.status, _attempts(conns)) == ("failed", [status])
    (job_id,) = FailedJobRegistry(queue=erasure_queue(conns.raw)).get_job_ids()
    assert job_id == event.job_id
    assert conns.text.hget("zc:event:userdb:evt-0", "last_error") == f"HTTP {status}: Bad thing."


def test_exhausted_retries_fail_with_the_reason_and_the_last_status(
    sandbox: Sandbox, conns: Connections, settings: Settings
) -> None:
    """Always 503: max_attempts (4) calls, then failed with the count and the last status."""
    sandbox.state.set_faults(always={"status": 503, "message": "Down."})
    accept_mapped(settings, conns.text, conns.raw, sandbox, 1)
    drain(settings, conns)
    assert _attempts(conns) == [503, 503, 503, 503]
    failed = [t for t in events.trail(conns.text, "userdb", "evt-0") if t["what"] == "failed"]
    assert [(f["status"], f["error"]) for f in failed] == [
        (503, "retries exhausted after 4 attempts: HTTP 503: Down.")
    ]
    assert FailedJobRegistry(queue=erasure_queue(conns.raw)).count == 1


def test_a_429_holds_every_worker_for_its_retry_after(
    sandbox: Sandbox, conns: Connections, settings: Settings
) -> None:
    """The Retry-After of a 429 becomes the hold shared by all workers."""
    sandbox.state.set_faults(script=[{"status": 429, "retry_after": "30"}])
    accept_mapped(settings, conns.text, conns.raw, sandbox, 1)
    answer = handle_delivery(context(settings, conns), "userdb", "evt-0")
    assert answer["status"] == "retrying"
    assert 28 < pause.held_for(conns.text, time.time()) <= 30


class _NotJson(http.server.BaseHTTPRequestHandler):
    """Answers every call 200 with an HTML page, as a misrouted proxy would."""

    def do_PUT(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", "6")
        self.end_headers()
        self.wfile.write(b"<html>")

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_unreadable_answer_fails_at_once_with_the_reason(
    conns: Connections, settings: Settings
) -> None:
    """An upsert answered with a non-JSON 200: one run, failed with the reason, not RQ-retried."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NotJson)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sources = default_sources()
    sources["userdb"]["targets"] = [{"object": "contacts", "resolve": ["assert:email"]}]
    odd = make_settings(f"http://127.0.0.1:{server.server_port}/v2", sources)
    accept_event(conns, "evt-0", "u-0", time.time())
    try:
        drain(odd, conns)
    finally:
        server.shutdown()
        server.server_close()
    stored = events.load(conns.text, "userdb", "evt-0")
    assert stored is not None and stored.status == "failed"
    assert conns.text.hget("zc:event:userdb:evt-0", "last_error") == (
        "HTTP 200: response is not JSON"
    )
    (job_id,) = FailedJobRegistry(queue=erasure_queue(conns.raw)).get_job_ids()
    runs = [t for t in events.trail(conns.text, "userdb", "evt-0") if t["what"] == "run"]
    assert (job_id, len(runs)) == (stored.job_id, 1)


class _Top(random.Random):
    """Jitter that always draws the top of its range, to see the schedule's ceiling."""

    def uniform(self, a: float, b: float) -> float:
        return b


def test_backoff_ceiling_doubles_from_the_base_up_to_the_max(conns: Connections) -> None:
    """base 1 s, max 60 s: ceilings 1, 2, 4, ... 32, then 60 for every later attempt."""
    slow = make_settings(delivery={"backoff_base_seconds": 1.0, "backoff_max_seconds": 60.0})
    ctx = context(slow, conns)
    ctx.rng = _Top()
    assert [backoff(ctx, n) for n in range(1, 10)] == [1, 2, 4, 8, 16, 32, 60, 60, 60]


def test_backoff_is_full_jitter_between_zero_and_the_ceiling(conns: Connections) -> None:
    """Attempt 3 at base 1 s: delays spread over [0, 4], not bunched near the ceiling."""
    slow = make_settings(delivery={"backoff_base_seconds": 1.0, "backoff_max_seconds": 60.0})
    ctx = context(slow, conns)
    ctx.rng = random.Random(7)
    delays = [backoff(ctx, 3) for _ in range(200)]
    assert all(0 <= d <= 4 for d in delays)
    assert min(delays) < 0.5 and max(delays) > 3.5


def test_a_5xx_reschedules_after_the_backoff_and_spends_one_attempt(
    sandbox: Sandbox, conns: Connections, settings: Settings
) -> None:
    """A 500 on the first try: retrying after the attempt-1 backoff, attempts 1, reason kept."""
    sandbox.state.set_faults(script=[{"status": 500, "message": "Oops."}])
    accept_mapped(settings, conns.text, conns.raw, sandbox, 1)
    ctx = context(settings, conns)
    ctx.rng = _Top()
    answer = handle_delivery(ctx, "userdb", "evt-0")
    event = events.load(conns.text, "userdb", "evt-0")
    assert (answer["status"], answer["retry_in"]) == ("retrying", 0.05)
    assert (event.attempts, event.status) == (1, "retrying")  # type: ignore[union-attr]
    assert conns.text.hget("zc:event:userdb:evt-0", "last_error") == "HTTP 500: Oops."
