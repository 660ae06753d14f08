"""The gate every Zeeg call passes: auth pause, the shared 429 hold, the shared token bucket.

The bucket's rate adapts: the Zeeg client reports each 429 as it arrives (throttled), which
holds every worker for its Retry-After and lowers the rate for all of them; the rate climbs
back while calls succeed (store.ratelimit).

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
        """Return when a call may be made now; raise DeliveryDeferred when it must wait long.

        One round trip per pass (ratelimit.pass_gate): the pause, the 429 hold, a token. After
        a nap every check runs again: another worker may have paused or held meanwhile.
        """
        zeeg = self._settings.zeeg
        while True:
            kind, wait = ratelimit.pass_gate(
                self._r, zeeg.rate_limit_per_second, zeeg.burst, probe=probe
            )
            if kind == ratelimit.PAUSED:
                raise DeliveryDeferred(
                    EventStatus.AUTH_PAUSED, pause_wait(self._r, self._settings, self._rng)
                )
            if kind == ratelimit.GO:
                return
            if wait > self._settings.delivery.max_wait_in_job_seconds:
                # Jitter spreads the woken jobs; the bucket spaces them again anyway.
                jitter = self._rng.uniform(0, min(1.0, wait / 10))
                raise DeliveryDeferred(EventStatus.RATE_LIMITED, wait + jitter)
            self._sleep(wait)

    def throttled(self, retry_after: float | None = None) -> None:
        """Zeeg answered 429: hold every worker for its Retry-After (seconds from the answer,
        which is now) and lower the shared rate, in one round trip (see store.ratelimit).

        No jitter: the workers the hold stopped wake together, and the shared bucket (left
        with at most one token by the cut) lets them out one at a time at the cut rate.
        """
        ratelimit.slow_down(self._r, self._settings.zeeg.rate_limit_per_second, hold=retry_after)


def pause_wait(r: redis.Redis, settings: Settings, rng: random.Random) -> float:
    """How long a job waits while delivery is paused: about one probe interval, with jitter.

    A successful probe or an operator's resume wakes waiting jobs earlier (queue.resume()).
    """
    every = settings.delivery.auth_probe_seconds
    return max(pause.probe_due_in(r), every) + rng.uniform(0, 0.25) * every
