"""The intake script's arguments are the recorded commands' words themselves, each one an
argument of its own that redis-py packs (in C, with hiredis), not blobs encoded in Python."""

from __future__ import annotations

from typing import Any

import pytest
from redis.connection import Connection

from consumer import intake
from consumer.models import ParsedEvent
from consumer.queue import erasure_queue
from consumer.store import keys
from consumer.store.connection import Connections

NOW = 1_700_000_000.0


def _accept(conns: Connections, event_id: str) -> intake.IntakeResult:
    event = ParsedEvent("userdb", event_id, "contact.deleted", "u-1", None, ("contacts",))
    return intake.accept(
        conns.text,
        erasure_queue(conns.raw),
        event,
        now=NOW,
        dedupe_ttl_days=1,
        retention_days=1,
        job_timeout=60,
    )


def _packed(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    """Every command a connection sends (to be packed) from now on, as its arguments."""
    seen: list[tuple[Any, ...]] = []
    original = Connection.send_command

    def recording(self: Connection, *args: Any, **kwargs: Any) -> None:
        seen.append(args)
        original(self, *args, **kwargs)

    monkeypatch.setattr(Connection, "send_command", recording)
    return seen


def _groups(argv: tuple[Any, ...]) -> tuple[list[Any], list[Any], list[Any]]:
    """ARGV split as the script splits it: writes, a new event's metrics, a duplicate's (after
    the two counts, the dedupe window and now)."""
    writes, on_new = int(argv[0]), int(argv[1])
    words = list(argv[4:])
    return words[:writes], words[writes : writes + on_new], words[writes + on_new :]


def _commands(words: list[Any]) -> list[list[Any]]:
    """Words in which a command is its length then its words, as commands."""
    out, i = [], 0
    while i < len(words):
        n = int(words[i])
        out.append(words[i + 1 : i + 1 + n])
        i += n + 1
    return out


def test_the_scripts_arguments_are_the_commands_words(
    conns: Connections, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One EVALSHA whose ARGV holds each command's words as they were recorded."""
    _accept(conns, "evt-warm")  # loads the script and RQ's server version
    packed = _packed(monkeypatch)
    result = _accept(conns, "evt-1")
    (call,) = [args for args in packed if args[0] == "EVALSHA"]
    dedupe_key = keys.dedupe("userdb", "evt-1")
    assert call[2:5] == (2, dedupe_key, keys.event("userdb", "evt-1"))
    assert call[7] == 0  # the window: with 1 day of retention the dedupe key dedupes
    writes, on_new, on_duplicate = _groups(call[5:])
    commands = _commands(writes)
    assert commands[0] == ["SET", dedupe_key, result.job_id, "EX", 86400]
    assert on_new == []  # no webhook tally outside a webhook
    assert [c[0] for c in _commands(on_duplicate)] == ["HINCRBY"]
    assert all(isinstance(w, str | bytes | int | float) for w in call[1:])
    assert conns.text.get(dedupe_key) == result.job_id
