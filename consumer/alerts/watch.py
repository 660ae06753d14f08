"""The alerts' part of a worker's maintenance: evaluate, then hand the alerts to the sender."""

from __future__ import annotations

import time
from collections.abc import Callable

import redis

from consumer.alerts.evaluate import evaluate
from consumer.alerts.send import Sender
from consumer.queue import Queue
from consumer.settings import Settings


class Watcher:
    """Evaluates the alert conditions on one Redis and queue and submits what is due."""

    def __init__(
        self,
        r: redis.Redis,
        queue: Queue,
        settings: Settings,
        sender: Sender | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.r, self.queue, self.settings, self.clock = r, queue, settings, clock
        self.sender = sender or Sender(r, settings.alerts)

    def __call__(self) -> None:
        """One evaluation; Redis errors propagate (the maintenance retries next time)."""
        for alert in evaluate(self.r, self.queue, self.settings, self.clock()):
            self.sender.submit(alert)


def with_alerts(
    housekeeping: Callable[[], None] | None, r: redis.Redis, queue: Queue, settings: Settings
) -> Callable[[], None] | None:
    """housekeeping followed by an alert evaluation, if alerts are configured (else as is)."""
    if settings.alerts.webhook_url is None:
        return housekeeping
    watcher = Watcher(r, queue, settings)

    def both() -> None:
        if housekeeping is not None:
            housekeeping()
        watcher()

    return both
