"""The gate every Zeeg call passes: auth pause, the shared 429 hold, the shared token bucket.

Short waits are slept through; a wait longer than delivery.max_wait_in_job_seconds raises
DeliveryDeferred instead, so a worker never sits on a job and the job is rescheduled
without spending an attempt.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

import redis

from consumer.errors import DeliveryDeferred
from consumer.models import EventStatus
from consumer.settings import Settings
from consumer.store import pause, ratelimit


class DeliveryGate:
    """Called before each request (see zeeg.Gate); shared state lives in Redis."""

    def __init__(
        self,
        r: redis.Redis,
        settings: Settings,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._r = r
        self._settings = settings
        self._clock = clock
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self._sleep = sleep

    def __call__(self, *, probe: bool = False) -> None:
        """Return when a call may be made now; raise DeliveryDeferred when it must wait long."""
        self._check_pause(probe)
        self._wait(EventStatus.RATE_LIMITED, self._held)
        if self._wait(EventStatus.RATE_LIMITED, self._token):
            # Another worker may have paused delivery or set a 429 hold during the nap.
            self._check_pause(probe)
            self._wait(EventStatus.RATE_LIMITED, self._held)

    def _check_pause(self, probe: bool) -> None:
        if not probe and pause.state(self._r) is not None:
            raise DeliveryDeferred(
                EventStatus.AUTH_PAUSED, pause_wait(self._r, self._settings, self._rng)
            )

    def _held(self) -> float:
        return pause.held_for(self._r, self._clock())

    def _token(self) -> float:
        zeeg = self._settings.zeeg
        return ratelimit.take(self._r, zeeg.rate_limit_per_second, zeeg.burst)

    def _wait(self, why: str, ask: Callable[[], float]) -> bool:
        """Ask until no wait is left; True if that took a nap."""
        limit = self._settings.delivery.max_wait_in_job_seconds
        napped = False
        while True:
            wait = ask()
            if wait <= 0:
                return napped
            if wait > limit:
                # Jitter spreads the woken jobs; the bucket spaces them again anyway.
                raise DeliveryDeferred(why, wait + self._rng.uniform(0, min(1.0, wait / 10)))
            self._sleep(wait)
            napped = True


def pause_wait(r: redis.Redis, settings: Settings, rng: random.Random) -> float:
    """How long a job waits while delivery is paused: about one probe interval, with jitter.

    A successful probe or an operator's resume wakes waiting jobs earlier (queue.resume()).
    """
    every = settings.delivery.auth_probe_seconds
    return max(pause.probe_due_in(r), every) + rng.uniform(0, 0.25) * every
