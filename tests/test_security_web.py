"""The app is never in debug mode, whatever the environment says."""

from __future__ import annotations

import pytest

from consumer.settings import Settings
from consumer.store.connection import Connections
from consumer.web import create_app


def test_flask_debug_in_the_environment_does_not_turn_on_debug_mode(
    settings: Settings, conns: Connections, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Debug mode would let errors bypass the JSON handlers and reach gunicorn raw."""
    monkeypatch.setenv("FLASK_DEBUG", "1")
    app = create_app(settings, redis=conns)
    assert app.debug is False
