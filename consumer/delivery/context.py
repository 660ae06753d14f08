"""The context a delivery runs in: settings, Redis, the queue, a Zeeg client, time."""

from __future__ import annotations

import dataclasses
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import redis

from consumer.intake import Intake
from consumer.queue import Queue
from consumer.settings import Settings
from consumer.zeeg.client import ZeegClient


@dataclass
class Context:
    """What a delivery needs; built once per worker process (a copy per job thread).

    Its Zeeg client is built with the delivery gate (pause, 429 hold, token bucket) passed
    in, so no job can call Zeeg around the shared limits (see jobs.build_context).
    """

    settings: Settings
    r: redis.Redis
    queue: Queue
    zeeg: ZeegClient
    clock: Callable[[], float] = time.time
    rng: random.Random = field(default_factory=random.Random)

    @property
    def intake(self) -> Intake:
        """The intake service on this context's Redis and queue (late links come in here)."""
        return Intake(self.r, self.queue, self.settings)

    def with_own_client(self) -> Context:
        """This context with a Zeeg client of its own (a requests.Session is not thread-safe):
        same settings, gate and observer, its own keep-alive connection."""
        zeeg = ZeegClient(self.settings.zeeg, gate=self.zeeg.gate, observe=self.zeeg.observe)
        return dataclasses.replace(self, zeeg=zeeg)
