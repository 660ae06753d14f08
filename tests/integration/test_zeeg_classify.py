"""ZeegClient against the sandbox over real HTTP: status -> exception, timeouts, the gate."""

from __future__ import annotations

import uuid

import pytest

from consumer.devtools.sandbox import Sandbox
from consumer.errors import DeliveryDeferred, ZeegAuth, ZeegError, ZeegRejected, ZeegTransient
from consumer.zeeg.client import ZeegClient
from tests.helpers import make_settings


def _client(url: str, **zeeg: float) -> ZeegClient:
    return ZeegClient(make_settings(url, zeeg=zeeg).zeeg)


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (429, ZeegTransient),
        (500, ZeegTransient),
        (502, ZeegTransient),
        (503, ZeegTransient),
        (401, ZeegAuth),
        (403, ZeegAuth),
        (400, ZeegRejected),
        (409, ZeegRejected),
        (422, ZeegRejected),
    ],
)
def test_status_classes_raise_the_exception_for_what_comes_next(
    status: int, kind: type[ZeegError], sandbox: Sandbox
) -> None:
    """Each failing status class maps to one exception, carrying the status."""
    sandbox.state.set_faults(script=[{"status": status}])
    with pytest.raises(kind) as caught:
        _client(sandbox.url).delete_record("contacts", str(uuid.uuid4()))
    assert (type(caught.value), caught.value.status) == (kind, status)


def test_404_on_delete_is_already_gone(sandbox: Sandbox) -> None:
    """DELETE of an unknown record answers 404: a result, not an error."""
    result = _client(sandbox.url).delete_record("contacts", str(uuid.uuid4()))
    assert (result.status, result.deleted) == (404, False)


@pytest.mark.parametrize("shape", ["message", "error"])
def test_reason_comes_from_either_error_body_shape(shape: str, sandbox: Sandbox) -> None:
    """{"message": ...} and {"error": ...} bodies both give the reason."""
    sandbox.state.set_faults(error_shape=shape, script=[{"status": 422, "message": "Nope."}])
    with pytest.raises(ZeegRejected, match=r"^HTTP 422: Nope\.$"):
        _client(sandbox.url).delete_record("contacts", str(uuid.uuid4()))


@pytest.mark.parametrize(("hint", "low", "high"), [("7", 7, 7), ("date:5", 3.5, 5.5)])
def test_429_carries_retry_after_in_seconds_or_as_a_date(
    hint: str, low: float, high: float, sandbox: Sandbox
) -> None:
    """Retry-After as delta-seconds or as an HTTP date becomes seconds from now."""
    sandbox.state.set_faults(script=[{"status": 429, "retry_after": hint}])
    with pytest.raises(ZeegTransient) as caught:
        _client(sandbox.url).delete_record("contacts", str(uuid.uuid4()))
    assert caught.value.retry_after is not None
    assert low <= caught.value.retry_after <= high


def test_429_without_a_hint_leaves_retry_after_unset(sandbox: Sandbox) -> None:
    """No Retry-After: None, so the caller falls back to its backoff."""
    sandbox.state.set_faults(script=[{"status": 429, "retry_after": None}])
    with pytest.raises(ZeegTransient) as caught:
        _client(sandbox.url).delete_record("contacts", str(uuid.uuid4()))
    assert caught.value.retry_after is None


def test_read_timeout_is_transient_without_a_status(sandbox: Sandbox) -> None:
    """A call slower than read_timeout_seconds raises ZeegTransient (status None)."""
    sandbox.state.set_faults(script=[{"delay_ms": 800}])
    client = _client(sandbox.url, read_timeout_seconds=0.2)
    with pytest.raises(ZeegTransient, match="timed out") as caught:
        client.delete_record("contacts", str(uuid.uuid4()))
    assert caught.value.status is None


def test_dropped_connection_is_transient(sandbox: Sandbox) -> None:
    """The server closes the connection unanswered: ZeegTransient."""
    sandbox.state.set_faults(script=[{"drop": True}])
    with pytest.raises(ZeegTransient):
        _client(sandbox.url).delete_record("contacts", str(uuid.uuid4()))


def test_gate_runs_before_every_request_and_can_stop_it(sandbox: Sandbox) -> None:
    """A gate that defers means no request reaches Zeeg; probe calls say so to the gate."""
    seen: list[bool] = []

    def gate(*, probe: bool = False) -> None:
        seen.append(probe)
        raise DeliveryDeferred("rate_limited", 5.0)

    client = ZeegClient(make_settings(sandbox.url).zeeg, gate=gate)
    with pytest.raises(DeliveryDeferred):
        client.delete_record("contacts", str(uuid.uuid4()))
    with pytest.raises(DeliveryDeferred):
        client.get_object("contacts", probe=True)
    assert (seen, sandbox.state.requests()) == ([False, True], [])
