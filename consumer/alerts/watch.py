"""The alerts' part of a worker's maintenance: evaluate, then hand the alerts to the sender.

An alert the webhook did not take (down, refusing) is kept in Redis and tried again by the
next evaluations, by whichever worker takes it, so an outage of the receiver delays alerts
rather than losing them.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable

import redis

from consumer.alerts.evaluate import Alert, evaluate
from consumer.alerts.send import Sender
from consumer.logs import iso
from consumer.queue import Queue
from consumer.settings import Settings
from consumer.store import alerts as store

log = logging.getLogger(__name__)
# While the webhook is down, each evaluation tries this many of the kept alerts again, oldest
# first (an alert that fails again goes back to the end), and gives up on one after a day.
RESEND_PER_EVALUATION = 5
UNSENT_HOURS = 24.0
DELAYED = "[delayed from"


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
        """One evaluation, after another try of the alerts the webhook did not take; Redis
        errors propagate (the maintenance retries next time)."""
        now = self.clock()
        for alert in self._unsent(now):
            self.sender.submit(alert)
        for alert in evaluate(self.r, self.queue, self.settings, now):
            self.sender.submit(alert)

    def _unsent(self, now: float) -> list[Alert]:
        """The oldest alerts kept unsent, marked delayed; those past UNSENT_HOURS are dropped."""
        found = []
        for kept in store.take_unsent(self.r, RESEND_PER_EVALUATION):
            try:
                alert = Alert(**kept)
            except TypeError:  # not the fields an Alert has: a hand edit, dropped
                continue
            if now - alert.ts > UNSENT_HOURS * 3600:
                log.warning(
                    "alert %s %s from %s dropped unsent", alert.kind, alert.state, iso(alert.ts)
                )
                continue
            if not alert.text.startswith(DELAYED):  # marked once, however often it is retried
                alert = dataclasses.replace(alert, text=f"{DELAYED} {iso(alert.ts)}] {alert.text}")
            found.append(alert)
        return found


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
