"""Redis clients: one that decodes for our own keys, one raw for RQ (which needs bytes).

Every client of the service (web, worker, RQ's scheduler, which copies the worker's pool
settings, and the CLI) comes from connect(): from REDIS_URL, or through Sentinel, whose
master_for clients ask the Sentinels for the current primary on every new connection and drop
a connection that finds a replica where the primary was (READONLY), so a failover is followed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, overload

import redis
from redis.commands.core import Script
from redis.connection import SSLConnection
from redis.sentinel import Sentinel, SentinelConnectionPool, SentinelManagedConnection
from redis.typing import EncodableT
from redis.utils import SENTINEL

from consumer.settings.model import RedisSentinel

log = logging.getLogger(__name__)
DEFAULT_URL = "redis://127.0.0.1:6379/0"
# Short socket timeouts, so an unreachable Redis fails fast (503) rather than hanging a request.
OPTIONS: dict[str, Any] = {
    "socket_connect_timeout": 2.0,
    "socket_timeout": 5.0,
    "health_check_interval": 30,
}

# The text client decodes every reply; bytes that are not UTF-8 (a hand edit, a restore from
# another tool) read as U+FFFD rather than raising in every reader, and nothing this service
# writes is affected, since it writes only text it validated.
TEXT: dict[str, Any] = {"decode_responses": True, "encoding_errors": "replace"}


@overload
def as_text(value: bytes | str) -> str: ...
@overload
def as_text(value: None) -> None: ...
def as_text(value: bytes | str | None) -> str | None:
    """A reply of the raw client (bytes) as text; text and None as they are."""
    return value.decode() if isinstance(value, bytes) else value


# How long an intake write waits for its replicas (WAIT): a replica acknowledges at once when
# asked (the primary sends it REPLCONF GETACK), so this bounds a round trip, not a sync.
WAIT_MILLISECONDS = 250


class NotReplicated(redis.exceptions.ConnectionError):
    """Fewer replicas than required acknowledged a write: it is not acknowledged either."""


class _SentinelConnection(SentinelManagedConnection):
    """redis-py's Sentinel-managed connection, dropped when a read fails midway like any other.

    redis-py's own defaults disconnect_on_error to False (a plain connection: True), so a read
    cut short (the exception of RQ's warm-shutdown signal during BLPOP) left its reply on the
    connection for the next command: RQ's register_death then failed with "Wrong number of
    response items from pipeline execution" and the worker exited 1.
    """

    def read_response(
        self,
        disable_decoding: bool = False,
        *,
        timeout: float | object = SENTINEL,
        disconnect_on_error: bool | None = True,
        push_request: bool | None = False,
    ) -> Any:
        """The next reply; the connection is closed if reading it fails."""
        return super().read_response(
            disable_decoding=disable_decoding,
            timeout=timeout,
            disconnect_on_error=disconnect_on_error,
            push_request=push_request,
        )


class _SentinelSSLConnection(_SentinelConnection, SSLConnection):
    """The same over TLS."""


@dataclass(frozen=True)
class Connections:
    """Two clients on the same Redis: text for our keys, bytes for RQ."""

    text: redis.Redis
    raw: redis.Redis


def connect(url: str | None, sentinel: RedisSentinel | None = None) -> Connections:
    """Both clients, on the primary Sentinel names when sentinel is given, else on url."""
    if sentinel is not None:
        manager = sentinel_manager(sentinel)
        kind = _SentinelSSLConnection if sentinel.tls else _SentinelConnection
        return Connections(
            text=_master(manager, sentinel.master, kind, **TEXT),
            raw=_master(manager, sentinel.master, kind),
        )
    url = url or DEFAULT_URL
    return Connections(
        text=redis.Redis.from_url(url, **TEXT, **OPTIONS),
        raw=redis.Redis.from_url(url, **OPTIONS),
    )


def _master(manager: Sentinel, name: str, kind: type, **options: Any) -> redis.Redis:
    """A client on the primary the Sentinels name (redis-py leaves master_for untyped)."""
    client: redis.Redis = manager.master_for(name, connection_class=kind, **options)  # type: ignore[no-untyped-call]
    return client


def replicas_to_wait(sentinel: RedisSentinel | None) -> int:
    """How many replicas must hold an intake write before it is acknowledged (0: none)."""
    return 0 if sentinel is None else sentinel.wait_replicas


def run_replicated(
    r: redis.Redis, script: Script, keys: list[str], args: list[EncodableT], replicas: int
) -> Any:
    """script's result, once `replicas` replicas acknowledged it (WAIT on its connection).

    Replication is asynchronous, and a primary that Sentinel has just replaced still accepts
    writes (about 10 s, until Sentinel demotes it) and then drops them. Such a primary has
    lost its replicas, so WAIT answers fewer than asked: then the Sentinels are asked, and
    unless they name this primary with no failover under way the write is refused (503, the
    sender retries) and the pool emptied, so the next connection goes to the new primary.
    A primary the Sentinels do name is the real one, short of replicas (the old primary not
    yet back as its replica, or a replica down): its writes are accepted, with a warning.
    """
    if replicas <= 0:
        return script(keys=keys, args=args)
    with r.pipeline(transaction=False) as pipe:  # one connection: WAIT covers the script
        script(keys=keys, args=args, client=pipe)
        pipe.wait(replicas, WAIT_MILLISECONDS)
        result, acked = pipe.execute()
    if acked < replicas:
        if not _named_primary(r):
            r.connection_pool.disconnect()
            raise NotReplicated(f"{acked} of {replicas} replicas acknowledged the write")
        log.warning("Redis primary has %d of %d replicas: write not replicated", acked, replicas)
    return result


def _named_primary(r: redis.Redis) -> bool:
    """Whether the Sentinels name the server r's connections use, with no failover under way."""
    pool = r.connection_pool
    if not isinstance(pool, SentinelConnectionPool):
        return False
    used = pool.master_address
    try:
        named = pool.get_master_address()  # type: ignore[no-untyped-call]  # untyped in redis-py
        # discover_master put the Sentinel that answered first.
        state = pool.sentinel_manager.sentinels[0].sentinel_master(pool.service_name)
    except redis.exceptions.RedisError:
        return False
    return bool(named == used and "failover_in_progress" not in str(state.get("flags", "")))


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
