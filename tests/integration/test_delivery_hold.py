"""The 429 hold: every worker held for the answer's Retry-After, counted from the answer."""

from __future__ import annotations

import math
import time

import pytest

from consumer.delivery.gate import DeliveryGate
from consumer.delivery.policy import handle_delivery
from consumer.devtools.sandbox import Sandbox
from consumer.errors import ZeegTransient
from consumer.settings import Settings
from consumer.store import keys
from consumer.store.connection import Connections
from consumer.zeeg.client import ZeegClient
from tests.helpers import context
from tests.workers import accept_mapped


def _redis_now(conns: Connections) -> float:
    seconds, micros = conns.text.time()
    return float(seconds) + float(micros) / 1e6


def _held_until(conns: Connections) -> float:
    value = conns.text.get(keys.HOLD)
    assert value is not None, "a 429 with Retry-After must hold every worker"
    return int(str(value)) / 1000.0


def _answer_429(
    settings: Settings, conns: Connections, sandbox: Sandbox, hint: str
) -> tuple[float, float]:
    """One DELETE answered 429 with hint (sandbox notation) through the delivery gate; the
    Redis time before it was sent and after its error was raised."""
    (rid,) = accept_mapped(settings, conns.text, conns.raw, sandbox, 1)
    sandbox.state.set_faults(script=[{"status": 429, "retry_after": hint}])
    client = ZeegClient(settings.zeeg, gate=DeliveryGate(conns.text, settings))
    before = _redis_now(conns)
    with pytest.raises(ZeegTransient):
        client.delete_record("contacts", rid)
    return before, _redis_now(conns)


def test_retry_after_seconds_hold_from_the_answer_for_that_long(
    settings: Settings, conns: Connections, sandbox: Sandbox
) -> None:
    """`Retry-After: 1`: held until 1 s after the answer arrived, set as it arrived (before the
    job's error handling, which only made it later), never before 1 s after it."""
    sent, raised = _answer_429(settings, conns, sandbox, "1")
    until = _held_until(conns)
    assert sent + 1.0 <= until <= raised + 1.0 + 0.002


def test_retry_after_date_holds_until_that_date(
    settings: Settings, conns: Connections, sandbox: Sandbox
) -> None:
    """An HTTP-date (the sandbox names the next whole second): held until that second, which
    is when the sandbox's window reopens, not a second later, and not before it."""
    sent, raised = _answer_429(settings, conns, sandbox, "date:1")
    dates = {math.floor(sent) + 1.0, math.floor(raised) + 1.0}
    until = _held_until(conns)
    assert any(date <= until <= date + 0.05 for date in dates), (until, dates)


def test_a_429_without_retry_after_holds_every_worker_for_the_jobs_backoff(
    settings: Settings, conns: Connections, sandbox: Sandbox
) -> None:
    """No Retry-After (Zeeg documents none): the hold is the retry's own backoff, as before."""
    accept_mapped(settings, conns.text, conns.raw, sandbox, 1)
    sandbox.state.set_faults(script=[{"status": 429, "retry_after": None}])
    answer = handle_delivery(context(settings, conns), "userdb", "evt-0")
    assert answer["status"] == "retrying"
    assert abs(_held_until(conns) - (time.time() + answer["retry_in"])) < 0.25
