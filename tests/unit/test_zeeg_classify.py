"""ZeegClient against the sandbox over real HTTP: status -> exception, timeouts, the gate."""

from __future__ import annotations

import email.utils
import uuid

import pytest

from consumer.errors import ZeegTransient
from consumer.zeeg.client import ZeegClient, parse_retry_after
from tests.helpers import free_port, make_settings


def _client(url: str, **zeeg: float) -> ZeegClient:
    return ZeegClient(make_settings(url, zeeg=zeeg).zeeg)


@pytest.mark.parametrize("value", [None, "", "soon", "Wed, 21 Oct 2015 07:28:00", "-3"])
def test_unusable_retry_after_is_none(value: str | None) -> None:
    """Absent, malformed, zone-less or negative hints are ignored."""
    assert parse_retry_after(value) is None


def test_retry_after_date_in_the_past_is_zero() -> None:
    """A date already passed means: now."""
    assert parse_retry_after(email.utils.formatdate(1000.0, usegmt=True), now=2000.0) == 0.0


def test_refused_connection_is_transient() -> None:
    """Nothing listening: ZeegTransient, so the event is retried."""
    client = _client(f"http://127.0.0.1:{free_port()}/v2", connect_timeout_seconds=0.5)
    with pytest.raises(ZeegTransient, match="could not connect"):
        client.delete_record("contacts", str(uuid.uuid4()))


@pytest.mark.parametrize(
    "value", ["99999999999999", email.utils.formatdate(2000.0 + 10**9, usegmt=True)]
)
def test_retry_after_beyond_a_day_counts_as_a_day(value: str) -> None:
    """An absurd hint (seconds or date) cannot hold every worker for years."""
    assert parse_retry_after(value, now=2000.0) == 86400.0


def test_non_ascii_digits_in_retry_after_are_ignored() -> None:
    """Unicode digits (str.isdigit accepts them) are not a number of seconds."""
    assert parse_retry_after("\u00b2") is None
