"""The context a delivery runs in: settings, Redis, the queue, a Zeeg client, time."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import redis
from rq import Queue

from consumer.delivery.gate import DeliveryGate
from consumer.settings import Settings
from consumer.zeeg.client import ZeegClient


@dataclass
class Context:
    """What a delivery needs; built once per worker process.

    A Zeeg client without a gate gets the delivery gate (pause, 429 hold, token bucket),
    so no job can call Zeeg around the shared limits.
    """

    settings: Settings
    r: redis.Redis
    queue: Queue
    zeeg: ZeegClient
    clock: Callable[[], float] = time.time
    rng: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        if self.zeeg.gate is None:
            self.zeeg.gate = DeliveryGate(self.r, self.settings, self.clock, self.rng)
