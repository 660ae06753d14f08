"""Redis clients: one that decodes for our own keys, one raw for RQ (which needs bytes).

Every client of the service (web, worker, RQ's scheduler, which copies the worker's pool
settings, and the CLI) comes from connect(): from REDIS_URL, or through Sentinel, whose
master_for clients ask the Sentinels for the current primary on every new connection and drop
a connection that finds a replica where the primary was (READONLY), so a failover is followed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis
from redis.sentinel import Sentinel

from consumer.settings.model import RedisSentinel

DEFAULT_URL = "redis://127.0.0.1:6379/0"
# Short socket timeouts, so an unreachable Redis fails fast (503) rather than hanging a request.
OPTIONS: dict[str, Any] = {
    "socket_connect_timeout": 2.0,
    "socket_timeout": 5.0,
    "health_check_interval": 30,
}


@dataclass(frozen=True)
class Connections:
    """Two clients on the same Redis: text for our keys, bytes for RQ."""

    text: redis.Redis
    raw: redis.Redis


def connect(url: str | None, sentinel: RedisSentinel | None = None) -> Connections:
    """Both clients, on the primary Sentinel names when sentinel is given, else on url."""
    if sentinel is not None:
        manager = sentinel_manager(sentinel)
        return Connections(
            # redis-py leaves the Sentinel API untyped; both return redis.Redis clients.
            text=manager.master_for(sentinel.master, decode_responses=True),  # type: ignore[no-untyped-call]
            raw=manager.master_for(sentinel.master),  # type: ignore[no-untyped-call]
        )
    url = url or DEFAULT_URL
    return Connections(
        text=redis.Redis.from_url(url, decode_responses=True, **OPTIONS),
        raw=redis.Redis.from_url(url, **OPTIONS),
    )


def sentinel_manager(sentinel: RedisSentinel) -> Sentinel:
    """A Sentinel client for these settings; its master_for clients use the primary's options."""
    return Sentinel(  # type: ignore[no-untyped-call]  # redis-py leaves it untyped
        list(sentinel.sentinels),
        sentinel_kwargs={
            **_auth(sentinel.sentinel_username, sentinel.sentinel_password),
            **_tls(sentinel.sentinel_tls, sentinel.tls_ca_file),
            "socket_connect_timeout": OPTIONS["socket_connect_timeout"],
            "socket_timeout": OPTIONS["socket_timeout"],
        },
        **_auth(sentinel.username, sentinel.password),
        **_tls(sentinel.tls, sentinel.tls_ca_file),
        db=sentinel.db,
        **OPTIONS,
    )


def _auth(username: str | None, password: str | None) -> dict[str, Any]:
    """AUTH options, only those set (a None username would still be sent by some versions)."""
    given = {"username": username, "password": password}
    return {k: v for k, v in given.items() if v is not None}


def _tls(enabled: bool, ca_file: str | None) -> dict[str, Any]:
    """TLS options: certificates are always verified, against ca_file when given."""
    if not enabled:
        return {}
    return {
        "ssl": True,
        "ssl_cert_reqs": "required",
        **({"ssl_ca_certs": ca_file} if ca_file else {}),
    }
