"""Behind a proxy: X-Forwarded-For sets the admin trail's "by" only from a trusted peer."""

from __future__ import annotations

import pytest
import requests

from consumer.devtools.sandbox import Sandbox
from consumer.store.connection import Connections
from consumer.web import create_app
from tests.helpers import ADMIN_TOKEN, RedisServer, make_settings, serve


def _paused_by(
    sandbox: Sandbox, redis_server: RedisServer, conns: Connections, trusted: str, xff: str
) -> str:
    """Who POST /admin/pause over HTTP records, with trusted_proxies and X-Forwarded-For."""
    env = {"REDIS_URL": redis_server.url, "CONSUMER_ADMIN_TOKEN": ADMIN_TOKEN}
    settings = make_settings(sandbox.url, env=env, web={"trusted_proxies": trusted})
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}", "X-Forwarded-For": xff}
    with serve(create_app(settings, redis=conns)) as url:
        answer = requests.post(
            f"{url}/admin/pause", json={"reason": "t"}, headers=headers, timeout=5
        )
    assert answer.status_code == 200, answer.text
    by: str = answer.json()["by"]
    return by


@pytest.mark.parametrize(
    ("trusted", "xff", "by"),
    [
        ("127.0.0.1", "203.0.113.7", "admin-api:203.0.113.7"),
        ("127.0.0.0/8, ::1", "203.0.113.7", "admin-api:203.0.113.7"),
        # Only the hop the trusted proxy appended counts: the client may write the rest.
        ("127.0.0.1", "6.6.6.6, 203.0.113.7", "admin-api:203.0.113.7"),
        # A chain of trusted proxies: the address the first of them saw.
        ("127.0.0.1, 10.0.0.0/8", "198.51.100.1, 10.1.2.3", "admin-api:198.51.100.1"),
    ],
)
def test_a_trusted_proxy_forwards_the_clients_address(
    sandbox: Sandbox,
    redis_server: RedisServer,
    conns: Connections,
    trusted: str,
    xff: str,
    by: str,
) -> None:
    """The peer (127.0.0.1) is a trusted proxy: "by" is the forwarded client."""
    assert _paused_by(sandbox, redis_server, conns, trusted, xff) == by


@pytest.mark.parametrize("trusted", ["", "10.0.0.0/8"])
def test_an_untrusted_peer_cannot_forge_its_address(
    sandbox: Sandbox, redis_server: RedisServer, conns: Connections, trusted: str
) -> None:
    """From a peer not in trusted_proxies, X-Forwarded-For is ignored: "by" is the peer."""
    by = _paused_by(sandbox, redis_server, conns, trusted, "203.0.113.7")
    assert by == "admin-api:127.0.0.1"
