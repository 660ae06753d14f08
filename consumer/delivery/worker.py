"""The RQ worker that runs erasure jobs: crash recovery and warm shutdown tuned for us.

Jobs run in the worker process itself (RQ's SimpleWorker: no fork per job), so one Redis
pool and one Zeeg connection (requests.Session) serve every job. What the fork gave, kept:
- job timeouts: RQ's SIGALRM death penalty, which works here as jobs run in the main thread;
- crash recovery: a thread renews the job's heartbeat every job_heartbeat_seconds while it
  runs, so a SIGKILLed worker's job is declared abandoned (and retried) as fast as before;
- warm shutdown: SIGTERM only asks RQ to stop after the current job (its DELETE finishes);
  a second SIGTERM is a cold shutdown, and RQ's retry runs the cut job again.

RQ declares a job abandoned when its worker's heartbeat is missing for
job_monitoring_interval + 60 s, then retries it (the job carries Retry(max=...)) at the next
registry maintenance. The grace is configurable here, so a killed worker's event is retried
within about maintenance_interval + job_heartbeat + heartbeat_grace seconds.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import redis
from redis.client import Pipeline
from rq import Queue, SimpleWorker
from rq.executions import Execution
from rq.job import Job
from rq.serializers import JSONSerializer
from rq.worker.base import BaseWorker, WorkerStatus

from consumer import alerts
from consumer.delivery import recovery
from consumer.ops import archive
from consumer.queue import admin_queue
from consumer.settings import Settings
from consumer.store import checkpoints, retention

log = logging.getLogger(__name__)

_RQ_GRACE = 60  # what RQ adds to the monitoring interval in get_heartbeat_ttl
# RQ's per-queue registry-cleaning lock lasts 899 s and is only released when the cleaning
# ends: a worker killed (or cut from Redis) mid-clean would stop crash recovery for 15 min.
CLEAN_LOCK_MAX_SECONDS = 60


class ErasureWorker(SimpleWorker):
    """An RQ worker running every job in its own process (no fork); a thread beats for it."""

    heartbeat_grace_seconds = _RQ_GRACE
    housekeeping: Callable[[], None] | None = None
    maintained_at: float | None = None  # when maintenance last completed (the health probe)

    def run_maintenance_tasks(self) -> None:
        """RQ's registry maintenance, then ours (retention trimming, at most hourly)."""
        for queue in self.queues:
            if self.connection.ttl(queue.registry_cleaning_key) > CLEAN_LOCK_MAX_SECONDS:
                self.connection.expire(queue.registry_cleaning_key, CLEAN_LOCK_MAX_SECONDS)
        recovery.recover(self.connection, self.queues)  # before RQ's: a freed lock is taken now
        super().run_maintenance_tasks()  # type: ignore[no-untyped-call]  # rq leaves it untyped
        self.maintained_at = time.time()
        if self.housekeeping is None:
            return
        try:
            self.housekeeping()
        except redis.exceptions.RedisError as e:  # retried at the next maintenance
            self.log.warning("housekeeping skipped: %s", type(e).__name__)

    def get_heartbeat_ttl(self, job: Job, working_time: float = 0.0) -> int:
        """How long a running job's heartbeat counts: RQ's forking value with our grace.

        Not SimpleWorker's (the whole job timeout + 60 s): our thread renews it meanwhile.
        """
        ttl: int = BaseWorker.get_heartbeat_ttl(self, job, working_time)
        return max(1, ttl - _RQ_GRACE + self.heartbeat_grace_seconds)

    def heartbeat(self, timeout: int | None = None, pipeline: Pipeline | None = None) -> None:
        """RQ's worker heartbeat, its three commands in one round trip when given no pipeline."""
        if pipeline is not None:
            super().heartbeat(timeout, pipeline)
            return
        with self.connection.pipeline() as pipe:
            super().heartbeat(timeout, pipe)
            pipe.execute()

    def execute_job(self, job: Job, queue: Queue) -> None:
        """Run job here, its heartbeat renewed by a thread as a forking worker's parent does."""
        execution = self.prepare_execution(job)
        beat = _Heartbeat(self, job, execution)
        beat.start()
        try:
            self.perform_job(job, queue, execution)
        finally:
            beat.stop()
        self.set_state(WorkerStatus.IDLE)


class _Heartbeat(threading.Thread):
    """Renews a running job's heartbeat (worker, execution, job) every monitoring interval."""

    def __init__(self, worker: ErasureWorker, job: Job, execution: Execution) -> None:
        super().__init__(name=f"heartbeat-{job.id}", daemon=True)
        self._worker, self._job, self._execution = worker, job, execution
        self._done = threading.Event()

    def run(self) -> None:
        """Beat until stopped; a Redis error skips one beat (the grace covers a few)."""
        while not self._done.wait(self._worker.job_monitoring_interval):
            try:
                self._worker.maintain_heartbeats(self._job, self._execution)
            except redis.exceptions.RedisError as e:
                log.warning("job heartbeat skipped: %s", type(e).__name__)

    def stop(self) -> None:
        """Stop beating and wait for a beat in progress to end."""
        self._done.set()
        self.join()


def make_worker(
    settings: Settings, queue: Queue, text: redis.Redis | None = None, **options: Any
) -> ErasureWorker:
    """An erasure worker on queue with the delivery settings' recovery timings.

    With text (a decoding client on the same Redis), its maintenance also trims the event log,
    the audit stream and the pending index by age, once an hour across all workers.
    """
    d = settings.delivery
    worker = ErasureWorker(
        [admin_queue(queue.connection), queue],  # a large replay starts ahead of the backlog
        connection=queue.connection,
        serializer=JSONSerializer,
        maintenance_interval=d.maintenance_interval_seconds,
        job_monitoring_interval=d.job_heartbeat_seconds,
        # An idle worker blocks on the queue for worker_ttl - 15 s before it looks at the
        # registries again: keep that to the maintenance interval, so recovery is not delayed.
        worker_ttl=d.maintenance_interval_seconds + 15,
        **options,
    )
    worker.heartbeat_grace_seconds = d.heartbeat_grace_seconds
    if text is not None:
        worker.housekeeping = functools.partial(_trim, text, settings)
        worker.housekeeping = alerts.with_alerts(worker.housekeeping, text, queue, settings)
    return worker


def _trim(r: redis.Redis, settings: Settings) -> None:
    archive.maintain(r, settings, time.time())  # index backfill, the daily audit archive
    removed = retention.trim_if_due(
        r,
        time.time(),
        settings.intake.event_log_retention_days,
        settings.retention.audit_retention_days,
        every=settings.retention.trim_interval_seconds,
        archiving=bool(settings.audit.archive_dir),
    )
    if removed is not None:
        log.info("retention trim: %s", removed)
    checkpoints.take_if_due(r, settings.signing_key, time.time())
