"""Operator functions shared by the CLI and the admin API: status, events, failed, requeue,
replay, erase, audit export, pause and resume. Each returns JSON-able data.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import redis

from consumer.errors import OperatorError
from consumer.intake import Intake
from consumer.queue import Queue, erasure_queue
from consumer.settings import Settings
from consumer.store.connection import Connections

# ASCII digits only: \d and float() also read Arabic-Indic and full-width digits.
_RELATIVE = re.compile(r"([0-9]+(?:\.[0-9]+)?)([smhd])", re.ASCII)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_LATEST = 253402300799.0  # 9999-12-31T23:59:59Z


@dataclass(frozen=True)
class Ops:
    """What operator functions need: settings, both Redis clients and the time."""

    settings: Settings
    conns: Connections
    clock: Callable[[], float] = field(default=time.time)

    @property
    def r(self) -> redis.Redis:
        """The decoding client for our own keys."""
        return self.conns.text

    @property
    def queue(self) -> Queue:
        """The erasure queue (on the bytes client, as RQ requires)."""
        return erasure_queue(self.conns.raw)

    @property
    def intake(self) -> Intake:
        """The intake service a manual erasure comes in through, as webhooks do."""
        return Intake(self.r, self.queue, self.settings)


def iso(ts: object) -> str | None:
    """Epoch seconds as ISO 8601 UTC with milliseconds; None if empty, as stored if no time."""
    if ts is None or ts == "":
        return None
    try:
        seconds = float(ts if isinstance(ts, int | float) else str(ts))
        text = datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds")
    except (TypeError, ValueError, OverflowError, OSError):
        # A stored value no time can render (a hand edit, an older version): shown raw, so
        # that a search, a show or an export never stops at it.
        return str(ts)
    return text.replace("+00:00", "Z")


def shown_int(value: object) -> int | str | None:
    """A stored count or status code as an int; None if empty, as stored if no number."""
    if value is None or value == "":
        return None
    text = str(value)
    return int(text) if text.isascii() and text.isdigit() and len(text) < 20 else text


def parse_time(value: str | float | None, now: float) -> float | None:
    """ISO 8601, epoch seconds, or an age such as 30m, 2h, 7d (before now); None if empty."""
    if value is None or value == "":
        return None
    text = str(value).strip()
    ts = _read_time(text, now)
    # Stream ids are unsigned milliseconds: NaN, infinities and times before 1970 or after
    # 9999 would fail inside Redis instead of here.
    if not (math.isfinite(ts) and 0 <= ts <= _LATEST):
        raise OperatorError(f"time {text[:40]!r} is out of range (1970 to 9999)")
    return ts


def _read_time(text: str, now: float) -> float:
    unreadable = OperatorError(
        f"cannot read time {text[:40]!r}: use ISO 8601, epoch seconds or an age like 2h"
    )
    if not text.isascii():
        raise unreadable
    relative = _RELATIVE.fullmatch(text)
    if relative:
        return now - float(relative.group(1)) * _UNITS[relative.group(2)]
    try:
        return float(text)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise unreadable from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()
