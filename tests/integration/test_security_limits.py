"""The body limit holds for chunked requests too (no Content-Length to refuse early)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from consumer.store.connection import Connections
from consumer.web import create_app
from tests.helpers import RedisServer, make_settings, serve, signed, userdb_body


@pytest.fixture
def small_limit_url(redis_server: RedisServer, conns: Connections) -> Iterator[str]:
    """The app with max_body_bytes = 1000, over real HTTP (chunked bodies need a server)."""
    settings = make_settings(env={"REDIS_URL": redis_server.url}, intake={"max_body_bytes": 1000})
    with serve(create_app(settings, redis=conns)) as url:
        yield url


def _chunked(body: bytes) -> Iterator[bytes]:
    for i in range(0, len(body), 100):
        yield body[i : i + 100]


def test_a_chunked_body_over_the_limit_is_413_not_a_cut_body(small_limit_url: str) -> None:
    """Cut at the limit, a signed body fails verification (401): the sender must see 413."""
    settings = make_settings(intake={"max_body_bytes": 1000})
    body = userdb_body("evt-big", "u-1", padding="x" * 3000)
    headers = signed(settings, "userdb", body)
    url = f"{small_limit_url}/webhooks/userdb"
    answer = requests.post(url, data=_chunked(body), headers=headers, timeout=10)
    assert answer.status_code == 413


def test_a_chunked_body_within_the_limit_is_accepted(small_limit_url: str) -> None:
    """Senders that stream their body (no Content-Length) still get through."""
    settings = make_settings(intake={"max_body_bytes": 1000})
    body = userdb_body("evt-small", "u-1")
    headers = signed(settings, "userdb", body)
    url = f"{small_limit_url}/webhooks/userdb"
    answer = requests.post(url, data=_chunked(body), headers=headers, timeout=10)
    assert answer.status_code == 202
