"""Post alerts to the configured webhook from a short-lived background thread.

The worker's maintenance only queues an alert; a thread started when there is something to
send posts it (short timeouts, a few attempts with backoff) and exits once the queue is empty,
so sending never holds up a delivery and no thread lingers when a worker forks a job. The URL
is a secret: nothing here logs it, or an exception's text, which would quote it.
"""

from __future__ import annotations

import atexit
import dataclasses
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

import redis
import requests

from consumer.alerts.evaluate import Alert
from consumer.logs import iso
from consumer.settings import AlertSettings
from consumer.store import alerts as store
from consumer.store import metrics

log = logging.getLogger(__name__)
BACKOFF_SECONDS = (0.5, 2.0, 5.0)


def payload(alert: Alert, fmt: str) -> dict[str, Any]:
    """The JSON body: Slack's {"text"}, or (format json) the text with the alert's fields."""
    if fmt == "slack":
        return {"text": alert.text}
    return {
        "text": alert.text,
        "kind": alert.kind,
        "state": alert.state,
        "ts": iso(alert.ts),
        "service": "zeeg-consumer",
        "details": alert.details,
    }


class Sender:
    """Sends alerts to one webhook and records each in the recent alerts and the metrics."""

    def __init__(
        self,
        r: redis.Redis,
        settings: AlertSettings,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.r = r
        self.settings = settings
        self.session = session or requests.Session()
        self.sleep = sleep
        self.pending: queue.SimpleQueue[Alert] = queue.SimpleQueue()
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None
        atexit.register(self.flush)

    def submit(self, alert: Alert) -> None:
        """Queue alert for the background thread (started if none runs); returns at once."""
        with self.lock:
            self.pending.put(alert)
            if self.thread is None:
                self.thread = threading.Thread(target=self._drain, name="alerts", daemon=True)
                self.thread.start()

    def _drain(self) -> None:
        while True:
            with self.lock:
                try:
                    alert = self.pending.get_nowait()
                except queue.Empty:
                    self.thread = None
                    return
            self.send(alert)

    def flush(self, timeout: float | None = None) -> None:
        """Wait (at most timeout, by default one alert's worth of attempts) for queued alerts."""
        thread = self.thread
        if thread is not None:
            s = self.settings
            thread.join(timeout or s.attempts * s.timeout_seconds + sum(BACKOFF_SECONDS))

    def send(self, alert: Alert) -> bool:
        """Post alert with a few attempts; record it; True if the webhook took it."""
        delivered = self._post(alert)
        result = "sent" if delivered else "failed"
        entry = {"ts": alert.ts, "kind": alert.kind, "state": alert.state}
        try:
            store.remember(self.r, {**entry, "text": alert.text, "delivered": delivered})
            metrics.incr(self.r, "zeeg_consumer_alerts_total", kind=alert.kind, result=result)
            if not delivered and alert.kind != "test":  # the operator sees a test fail at once
                store.keep_unsent(self.r, dataclasses.asdict(alert))
        except redis.exceptions.RedisError as e:
            log.warning("alert %s %s not recorded: %s", alert.kind, alert.state, type(e).__name__)
        return delivered

    def _post(self, alert: Alert) -> bool:
        s, body = self.settings, payload(alert, self.settings.format)
        assert s.webhook_url is not None
        for attempt in range(1, s.attempts + 1):
            problem, retry = self._attempt(s.webhook_url, body)
            if problem is None:
                log.info("alert %s %s sent", alert.kind, alert.state)
                return True
            log.warning(
                "alert %s %s: attempt %d of %d failed: %s",
                alert.kind,
                alert.state,
                attempt,
                s.attempts,
                problem,
            )
            if not retry or attempt == s.attempts:
                break
            self.sleep(BACKOFF_SECONDS[min(attempt, len(BACKOFF_SECONDS)) - 1])
        log.error("alert %s %s could not be sent", alert.kind, alert.state)
        return False

    def _attempt(self, url: str, body: dict[str, Any]) -> tuple[str | None, bool]:
        """One POST: (None, _) if taken, else (what went wrong, whether to try again)."""
        timeout = self.settings.timeout_seconds
        try:
            answer = self.session.post(url, json=body, timeout=timeout, allow_redirects=False)
        except requests.RequestException as e:
            return type(e).__name__, True  # str(e) would quote the URL
        answer.close()
        if 200 <= answer.status_code < 300:
            return None, False
        # A 4xx other than 429 is a wrong URL or body: another try would be refused the same.
        retry = answer.status_code == 429 or answer.status_code >= 500
        return f"the webhook answered {answer.status_code}", retry
