"""Count the Redis round trips redis-py makes, by the commands each one carries."""

from __future__ import annotations

import collections
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from redis.connection import AbstractConnection, PythonRespSerializer


@contextmanager
def counted() -> Iterator[collections.Counter[str]]:
    """Every round trip meanwhile, named by its commands (a pipeline's joined with +)."""
    trips: collections.Counter[str] = collections.Counter()
    pending: list[str] = []
    pack, send = PythonRespSerializer.pack, AbstractConnection.send_packed_command

    def pack_command(self: PythonRespSerializer, *args: Any) -> Any:
        name = args[0] if isinstance(args[0], str) else args[0].decode()
        pending.append(name.upper().split(" ")[0])
        return pack(self, *args)

    def send_packed_command(
        self: AbstractConnection, command: Any, check_health: bool = True
    ) -> Any:
        if pending:  # one send is one round trip, whatever it carries
            trips["+".join(pending)] += 1
            pending.clear()
        return send(self, command, check_health)

    PythonRespSerializer.pack = pack_command  # type: ignore[method-assign]
    AbstractConnection.send_packed_command = send_packed_command  # type: ignore[method-assign]
    try:
        yield trips
    finally:
        PythonRespSerializer.pack = pack  # type: ignore[method-assign]
        AbstractConnection.send_packed_command = send  # type: ignore[method-assign]
