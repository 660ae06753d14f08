"""The delivery gate: auth pause, shared 429 hold and token bucket before every Zeeg call."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from rq.registry import ScheduledJobRegistry

from consumer.delivery.gate import DeliveryGate
from consumer.delivery.policy import handle_delivery
from consumer.devtools.sandbox import Sandbox
from consumer.errors import DeliveryDeferred
from consumer.queue import erasure_queue
from consumer.settings import Settings
from consumer.store import events, pause
from consumer.store.connection import Connections
from tests.helpers import context, make_settings
from tests.workers import accept_mapped


def _gate(conns: Connections, naps: list[float], **zeeg: float) -> DeliveryGate:
    """A gate whose naps are real but recorded."""

    def nap(seconds: float) -> None:
        naps.append(seconds)
        time.sleep(seconds)

    return DeliveryGate(conns.text, make_settings(zeeg=zeeg), sleep=nap)


def test_full_bucket_lets_burst_calls_through_without_waiting(conns: Connections) -> None:
    """burst calls pass at once."""
    naps: list[float] = []
    gate = _gate(conns, naps, rate_limit_per_second=1.0, burst=3)
    for _ in range(3):
        gate()
    assert naps == []


def test_short_token_wait_is_slept_through(conns: Connections) -> None:
    """An empty bucket at 10/s: the second call naps about 0.1 s, then goes."""
    naps: list[float] = []
    gate = _gate(conns, naps, rate_limit_per_second=10.0, burst=1)
    gate()
    gate()
    assert len(naps) == 1 and 0 < naps[0] <= 0.1


def test_long_token_wait_defers_instead_of_sleeping(conns: Connections) -> None:
    """At 0.2/s the next token is 5 s away: DeliveryDeferred, no nap."""
    naps: list[float] = []
    gate = _gate(conns, naps, rate_limit_per_second=0.2, burst=1)
    gate()
    with pytest.raises(DeliveryDeferred) as caught:
        gate()
    assert (caught.value.why, naps) == ("rate_limited", [])
    assert 4.5 <= caught.value.delay <= 6.0


def test_long_429_hold_defers(conns: Connections) -> None:
    """A hold 30 s away defers the call for at least the hold."""
    pause.hold_until(conns.text, time.time() + 30, time.time())
    with pytest.raises(DeliveryDeferred) as caught:
        _gate(conns, [])()
    assert caught.value.delay >= 29


def test_short_429_hold_is_slept_through(conns: Connections) -> None:
    """A hold under max_wait_in_job_seconds (1.5 s) is waited for in the job."""
    naps: list[float] = []
    pause.hold_until(conns.text, time.time() + 0.5, time.time())
    _gate(conns, naps)()
    assert len(naps) == 1 and 0.3 < naps[0] <= 0.5


def test_paused_delivery_defers_calls_but_not_the_probe(conns: Connections) -> None:
    """While paused every call defers with auth_paused; the probe call passes."""
    pause.pause(conns.text, "Zeeg answered 401", time.time())
    gate = _gate(conns, [])
    with pytest.raises(DeliveryDeferred) as caught:
        gate()
    assert caught.value.why == "auth_paused"
    gate(probe=True)


def test_context_puts_the_gate_on_a_client_without_one(
    settings: Settings, conns: Connections
) -> None:
    """No job can reach Zeeg around the shared limits."""
    assert isinstance(context(settings, conns).zeeg.gate, DeliveryGate)


def test_deferred_event_is_rescheduled_without_spending_an_attempt(
    sandbox: Sandbox, conns: Connections, settings: Settings
) -> None:
    """A 429 hold in force: no request, a scheduled job, attempts unchanged."""
    accept_mapped(settings, conns.text, conns.raw, sandbox, 1)
    pause.hold_until(conns.text, time.time() + 30, time.time())
    answer = handle_delivery(context(settings, conns), "userdb", "evt-0")
    event = events.load(conns.text, "userdb", "evt-0")
    assert (answer["status"], event.attempts, event.status) == ("rate_limited", 0, "rate_limited")  # type: ignore[union-attr]
    assert sandbox.state.requests() == []
    assert ScheduledJobRegistry(queue=erasure_queue(conns.raw)).get_job_ids() == [answer["job_id"]]


def _napping_gate(conns: Connections, nap: Callable[[float], None]) -> DeliveryGate:
    """A gate of 10 calls a second (burst 1) that sleeps through nap."""
    settings = make_settings(zeeg={"rate_limit_per_second": 10.0, "burst": 1})
    return DeliveryGate(conns.text, settings, sleep=nap)


def test_429_hold_set_during_a_token_nap_stops_the_call(conns: Connections) -> None:
    """Another worker's 429 arrives while this call naps for its token: deferred, not sent."""

    def nap(seconds: float) -> None:
        pause.hold_until(conns.text, time.time() + 30, time.time())
        time.sleep(seconds)

    gate = _napping_gate(conns, nap)
    gate()
    with pytest.raises(DeliveryDeferred) as caught:
        gate()
    assert (caught.value.why, caught.value.delay >= 29) == ("rate_limited", True)


def test_pause_set_during_a_token_nap_stops_the_call(conns: Connections) -> None:
    """A 401 elsewhere pauses delivery while this call naps for its token: deferred, not sent."""

    def nap(seconds: float) -> None:
        pause.pause(conns.text, "Zeeg answered 401", time.time())
        time.sleep(seconds)

    gate = _napping_gate(conns, nap)
    gate()
    with pytest.raises(DeliveryDeferred) as caught:
        gate()
    assert caught.value.why == "auth_paused"
