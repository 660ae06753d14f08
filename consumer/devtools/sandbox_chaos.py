"""Random faults for the sandbox, drawn from a seeded generator: a misbehaving Zeeg.

Set with `random` in the sandbox's faults (PUT /_sandbox/faults or Sandbox.set_faults):

    {"seed": 1, "error_rate": 0.10, "timeout_rate": 0.05, "timeout_ms": 1500,
     "drop_rate": 0.05, "burst_rate": 0.01, "burst_calls": 20, "retry_after": "1",
     "only": "DELETE"}

Each CRM call (of `only`'s method or path, as for other faults) draws once: a 500; a
timeout (the answer, with its effect, comes timeout_ms later: make it longer than the
client's read timeout); a dropped connection (closed unanswered, no effect); or the start
of a burst of burst_calls 429s with Retry-After. Counts by kind are in GET /_sandbox/stats.
"""

from __future__ import annotations

import collections
import random
from typing import Any

KINDS = ("500", "timeout", "drop", "429")


class RandomFaults:
    """One seeded draw per call; the caller holds the sandbox's lock."""

    def __init__(self, config: dict[str, Any], counts: collections.Counter[str]) -> None:
        self.config = config
        self.rng = random.Random(int(config.get("seed", 0)))  # noqa: S311 - faults, not secrets
        self.burst_left = 0
        self.counts = counts

    def draw(self) -> dict[str, Any] | None:
        """The fault for this call, if one is drawn (a burst in progress goes first)."""
        c = self.config
        if self.burst_left > 0:
            self.burst_left -= 1
            return self._count("429", {"status": 429, "retry_after": c.get("retry_after", "1")})
        roll = self.rng.random()
        for kind, rate in (
            ("500", c.get("error_rate", 0.0)),
            ("timeout", c.get("timeout_rate", 0.0)),
            ("drop", c.get("drop_rate", 0.0)),
            ("429", c.get("burst_rate", 0.0)),
        ):
            if roll < float(rate):
                return self._start(kind)
            roll -= float(rate)
        return None

    def _start(self, kind: str) -> dict[str, Any]:
        c = self.config
        if kind == "500":
            return self._count(kind, {"status": 500, "message": "Injected server error."})
        if kind == "timeout":
            return self._count(kind, {"delay_ms": c.get("timeout_ms", 1500), "answer": True})
        if kind == "drop":
            return self._count(kind, {"drop": True})
        self.burst_left = max(0, int(c.get("burst_calls", 20)) - 1)
        return self._count(kind, {"status": 429, "retry_after": c.get("retry_after", "1")})

    def _count(self, kind: str, fault: dict[str, Any]) -> dict[str, Any]:
        self.counts[kind] += 1
        return fault
