"""ZeegClient against the sandbox: answers become results or the right exception."""

from __future__ import annotations

import uuid

import pytest

from consumer.devtools.sandbox import Sandbox
from consumer.errors import InvalidIdentifier, ZeegAuth, ZeegRejected, ZeegTransient
from consumer.settings import ZeegSettings
from consumer.zeeg.client import ZeegClient
from tests.helpers import ZEEG_TOKEN


def _client(sandbox: Sandbox, token: str = ZEEG_TOKEN, read_timeout: float = 5.0) -> ZeegClient:
    return ZeegClient(ZeegSettings(sandbox.url, token, 1.0, read_timeout, 0.0, 1, False))


def test_delete_returns_200_then_404_as_already_gone(sandbox: Sandbox) -> None:
    """404 is a result, not an error."""
    (rid,) = sandbox.state.seed("contacts", [{}])
    client = _client(sandbox)
    assert client.delete_record("contacts", rid).deleted is True
    assert client.delete_record("contacts", rid).status == 404


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ({"status": 500}, ZeegTransient),
        ({"status": 503}, ZeegTransient),
        ({"status": 429, "retry_after": "3"}, ZeegTransient),
        ({"status": 401}, ZeegAuth),
        ({"status": 403}, ZeegAuth),
        ({"status": 400}, ZeegRejected),
        ({"status": 409}, ZeegRejected),
        ({"status": 422}, ZeegRejected),
        ({"drop": True}, ZeegTransient),
    ],
)
def test_status_classes_raise_the_right_exception(
    sandbox: Sandbox, fault: dict[str, object], error: type[Exception]
) -> None:
    """Status code first: retry, pause or reject."""
    sandbox.state.set_faults(script=[fault])
    with pytest.raises(error):
        _client(sandbox).delete_record("contacts", str(uuid.uuid4()))


def test_429_carries_the_retry_after_seconds(sandbox: Sandbox) -> None:
    """The hint travels with the exception."""
    sandbox.state.set_faults(script=[{"status": 429, "retry_after": "3"}])
    with pytest.raises(ZeegTransient) as caught:
        _client(sandbox).delete_record("contacts", str(uuid.uuid4()))
    assert caught.value.retry_after == 3.0 and caught.value.status == 429


def test_read_timeout_is_transient(sandbox: Sandbox) -> None:
    """A slow answer past the read timeout is retried, not failed."""
    sandbox.state.set_faults(script=[{"delay_ms": 800, "status": 200}])
    with pytest.raises(ZeegTransient, match="timed out"):
        _client(sandbox, read_timeout=0.2).delete_record("contacts", str(uuid.uuid4()))


@pytest.mark.parametrize(
    ("obj", "rid"),
    [("../admin", str(uuid.uuid4())), ("contacts", "1; DROP"), ("ab", str(uuid.uuid4()))],
)
def test_identifiers_are_checked_before_a_url_is_built(
    sandbox: Sandbox, obj: str, rid: str
) -> None:
    """Bad slugs or ids never reach the network."""
    with pytest.raises(InvalidIdentifier):
        _client(sandbox).delete_record(obj, rid)
    assert sandbox.state.requests() == []


def test_token_is_sent_as_bearer_and_never_in_repr(sandbox: Sandbox) -> None:
    """A wrong token gives ZeegAuth; repr hides the token."""
    client = _client(sandbox, token="wrong-token")
    with pytest.raises(ZeegAuth):
        client.delete_record("contacts", str(uuid.uuid4()))
    assert "wrong-token" not in repr(client)


def test_any_2xx_to_a_delete_counts_as_deleted(sandbox: Sandbox) -> None:
    """202 (or another success) is a deletion, not 'already gone'."""
    sandbox.state.set_faults(script=[{"status": 202}])
    assert _client(sandbox).delete_record("contacts", str(uuid.uuid4())).deleted is True


def test_a_redirect_to_a_delete_is_rejected_not_counted_as_deleted(sandbox: Sandbox) -> None:
    """A 3xx proves nothing: the job fails visibly instead."""
    sandbox.state.set_faults(script=[{"status": 302}])
    with pytest.raises(ZeegRejected, match="unexpected HTTP 302"):
        _client(sandbox).delete_record("contacts", str(uuid.uuid4()))
