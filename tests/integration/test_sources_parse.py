"""Parsing events: derived ids, preset-specific fields, and test events for every preset."""

from __future__ import annotations

import logging

import pytest

from consumer.store.connection import Connections
from consumer.web import create_app
from tests.helpers import sender_settings

SENDERS = sender_settings()


def test_unsigned_source_is_warned_about_when_the_app_starts(
    conns: Connections, caplog: pytest.LogCaptureFixture
) -> None:
    """A scheme none source logs a warning naming it at start."""
    with caplog.at_level(logging.WARNING, logger="consumer.web.webhooks"):
        create_app(SENDERS, redis=conns)
    assert any(
        "unsigned" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records
    )
