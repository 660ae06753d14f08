"""The RQ worker that runs erasure jobs: crash recovery and warm shutdown tuned for us.

RQ declares a job abandoned when its worker's heartbeat is missing for
job_monitoring_interval + 60 s, then retries it (the job carries Retry(max=...)) at the next
registry maintenance. The grace is configurable here, so a killed worker's event is retried
within about maintenance_interval + job_heartbeat + heartbeat_grace seconds.
"""

from __future__ import annotations

import functools
import logging
import signal
import time
from collections.abc import Callable
from typing import Any

import redis
from rq import Queue, Worker
from rq.job import Job
from rq.serializers import JSONSerializer

from consumer import alerts
from consumer.delivery import recovery
from consumer.ops import archive
from consumer.settings import Settings
from consumer.store import checkpoints, retention

log = logging.getLogger(__name__)

_RQ_GRACE = 60  # what RQ adds to the monitoring interval in get_heartbeat_ttl
# RQ's per-queue registry-cleaning lock lasts 899 s and is only released when the cleaning
# ends: a worker killed (or cut from Redis) mid-clean would stop crash recovery for 15 min.
CLEAN_LOCK_MAX_SECONDS = 60


class ErasureWorker(Worker):
    """A forking RQ worker whose work horse finishes its job through a SIGTERM."""

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
        """How long a running job's heartbeat counts: RQ's value with our grace."""
        ttl: int = super().get_heartbeat_ttl(job, working_time)
        return max(1, ttl - _RQ_GRACE + self.heartbeat_grace_seconds)

    def setup_work_horse_signals(self) -> None:
        """The horse ignores SIGINT/SIGTERM: the parent waits for it (warm shutdown).

        A SIGTERM sent to every process (a platform stopping a container) must not cut an
        in-flight DELETE; a second signal makes the parent kill the horse (cold shutdown).
        """
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)


def make_worker(
    settings: Settings, queue: Queue, text: redis.Redis | None = None, **options: Any
) -> ErasureWorker:
    """An erasure worker on queue with the delivery settings' recovery timings.

    With text (a decoding client on the same Redis), its maintenance also trims the event log,
    the audit stream and the pending index by age, once an hour across all workers.
    """
    d = settings.delivery
    worker = ErasureWorker(
        [queue],
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
        archiving=bool(settings.audit.archive_dir),
    )
    if removed is not None:
        log.info("retention trim: %s", removed)
    checkpoints.take_if_due(r, settings.signing_key, time.time())
