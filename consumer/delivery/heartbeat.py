"""The thread that renews running jobs' heartbeats while the worker runs them in-process."""

from __future__ import annotations

import logging
import threading

import redis
from rq.executions import Execution
from rq.job import Job
from rq.worker.base import BaseWorker

log = logging.getLogger(__name__)


class JobHeartbeat(threading.Thread):
    """Renews each running job's heartbeat (worker, execution, job) every monitoring interval.

    One thread per worker for all its jobs, however many run at once (a thread per job cost
    a start and a join, whose wake-up waits for the scheduler: milliseconds per job on a busy
    machine). A beat holds the lock, so unwatch() returns only once no beat of that job can
    still be written.
    """

    def __init__(self, worker: BaseWorker) -> None:
        super().__init__(name=f"heartbeat-{worker.name}", daemon=True)
        self._worker = worker
        self._lock = threading.Lock()
        self._running: dict[str, tuple[Job, Execution]] = {}  # by execution id
        self._done = threading.Event()

    def watch(self, job: Job, execution: Execution) -> None:
        """Beat for this job's execution from now on."""
        with self._lock:
            self._running[execution.id] = (job, execution)

    def unwatch(self, execution: Execution) -> None:
        """Stop beating for this execution; waits only for a beat in progress."""
        with self._lock:
            self._running.pop(execution.id, None)

    def run(self) -> None:
        """Beat until stopped; a Redis error skips one beat (the grace covers a few)."""
        while not self._done.wait(self._worker.job_monitoring_interval):
            with self._lock:
                for job, execution in list(self._running.values()):
                    try:
                        self._worker.maintain_heartbeats(job, execution)
                    except redis.exceptions.RedisError as e:
                        log.warning("job heartbeat skipped: %s", type(e).__name__)

    def stop(self) -> None:
        """End the thread (at its next wake-up; it is a daemon)."""
        self._done.set()
