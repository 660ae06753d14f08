"""The thread that renews a running job's heartbeat while the worker runs it in-process."""

from __future__ import annotations

import logging
import threading

import redis
from rq.executions import Execution
from rq.job import Job
from rq.worker.base import BaseWorker

log = logging.getLogger(__name__)


class JobHeartbeat(threading.Thread):
    """Renews the running job's heartbeat (worker, execution, job) every monitoring interval.

    One thread per worker for all its jobs (a thread per job cost a start and a join, whose
    wake-up waits for the scheduler: milliseconds per job on a busy machine). A beat holds
    the lock, so unwatch() returns only once no beat of that job can still be written.
    """

    def __init__(self, worker: BaseWorker) -> None:
        super().__init__(name=f"heartbeat-{worker.name}", daemon=True)
        self._worker = worker
        self._lock = threading.Lock()
        self._current: tuple[Job, Execution] | None = None
        self._done = threading.Event()

    def watch(self, job: Job, execution: Execution) -> None:
        """Beat for this job from now on."""
        with self._lock:
            self._current = (job, execution)

    def unwatch(self) -> None:
        """Stop beating for the current job; waits only for a beat in progress."""
        with self._lock:
            self._current = None

    def run(self) -> None:
        """Beat until stopped; a Redis error skips one beat (the grace covers a few)."""
        while not self._done.wait(self._worker.job_monitoring_interval):
            with self._lock:
                if self._current is None:
                    continue
                try:
                    self._worker.maintain_heartbeats(*self._current)
                except redis.exceptions.RedisError as e:
                    log.warning("job heartbeat skipped: %s", type(e).__name__)

    def stop(self) -> None:
        """End the thread (at its next wake-up; it is a daemon)."""
        self._done.set()
