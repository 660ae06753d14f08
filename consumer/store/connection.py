"""Redis clients: one that decodes for our own keys, one raw for RQ (which needs bytes)."""

from __future__ import annotations

from dataclasses import dataclass

import redis

DEFAULT_URL = "redis://127.0.0.1:6379/0"


@dataclass(frozen=True)
class Connections:
    """Two clients on the same Redis: text for our keys, bytes for RQ."""

    text: redis.Redis
    raw: redis.Redis


def connect(url: str | None) -> Connections:
    """Clients with short socket timeouts so an unreachable Redis fails fast (503)."""
    options = {"socket_connect_timeout": 2.0, "socket_timeout": 5.0, "health_check_interval": 30}
    url = url or DEFAULT_URL
    return Connections(
        text=redis.Redis.from_url(url, decode_responses=True, **options),
        raw=redis.Redis.from_url(url, **options),
    )
