"""The app is never in debug mode, whatever the environment says."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from consumer.settings import Settings
from consumer.store.connection import Connections
from consumer.web import create_app
from tests.helpers import sender_settings, signed


def test_flask_debug_in_the_environment_does_not_turn_on_debug_mode(
    settings: Settings, conns: Connections, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Debug mode would let errors bypass the JSON handlers and reach gunicorn raw."""
    monkeypatch.setenv("FLASK_DEBUG", "1")
    app = create_app(settings, redis=conns)
    assert app.debug is False


@pytest.mark.parametrize("source", ["unsigned", "auth0logs"])
def test_a_signed_body_with_an_integer_past_pythons_digit_limit_is_400(
    sender_client: FlaskClient, source: str
) -> None:
    """json.loads raises a bare ValueError past 4300 digits: a bad body, never a 500."""
    body = b'{"id": "e-1", "type": "user.deleted", "n": ' + b"1" * 5000 + b"}"
    settings = sender_settings()
    answer = sender_client.post(
        f"/webhooks/{source}", data=body, headers=signed(settings, source, body)
    )
    assert answer.status_code == 400
