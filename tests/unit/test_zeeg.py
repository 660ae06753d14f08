"""ZeegClient against the sandbox: answers become results or the right exception."""

from __future__ import annotations

import email.utils
import time
import uuid

import pytest

from consumer.errors import ZeegTransient
from consumer.settings import ZeegSettings
from consumer.zeeg.client import ZeegClient, parse_retry_after


def test_connection_refused_is_transient() -> None:
    """Nothing listening: retry later."""
    client = ZeegClient(ZeegSettings("http://127.0.0.1:9/v2", "t", 0.5, 0.5, 0.0, 1, False))
    with pytest.raises(ZeegTransient, match="could not connect"):
        client.delete_record("contacts", str(uuid.uuid4()))


def test_retry_after_parses_seconds_and_http_dates() -> None:
    """Both forms Zeeg may use; garbage is None."""
    now = time.time()
    assert parse_retry_after("12") == 12.0
    date = email.utils.formatdate(now + 30, usegmt=True)
    parsed = parse_retry_after(date, now=now)
    assert parsed is not None and 29 <= parsed <= 31
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
