"""RQ's registry cleaning, as every worker's maintenance runs it, made safe beside recovery.

RQ's worker cleans its queues' registries under a lock that only RQ's cleaning takes; our
recovery (recovery.retry_abandoned) runs in every worker's maintenance without it, on
purpose (a dead holder keeps that lock for a minute). Two changes to RQ's cleaning:
- the started registry's cleanup acts only on the lapsed entries it claimed (recovery.CLAIM):
  RQ's reads the lapsed entries, fetches each job and retries it in a later transaction, so a
  retry_abandoned in between (another worker's maintenance) retried the same job too, which
  then sat in the queue twice and ran twice;
- RQ's pass over the intermediate lists is not run. It writes an
  `<queue>:intermediate:first_seen:<job id>` key (a day's TTL) for each job it finds taken
  but not started, which is any job between its pop and its start (RQ looks the job up in the
  started registry by id, where entries are `<id>:<execution>`, so never finds it), and fails
  a job left there a minute. recovery.requeue_stranded already puts such a job back in front
  after STRANDED_SECONDS, and drops the entries of started jobs.
"""

from __future__ import annotations

from typing import Any, cast

from rq import Queue, worker_registration
from rq.registry import (
    DeferredJobRegistry,
    FailedJobRegistry,
    FinishedJobRegistry,
    ReadyJobRegistry,
    StartedJobRegistry,
)
from rq.utils import current_timestamp, now
from rq.worker import BaseWorker

from consumer.delivery.recovery import CLAIM


class ClaimingStartedRegistry(StartedJobRegistry):
    """RQ's started registry whose cleanup retries or fails only the entries it claimed."""

    def get_expired_job_ids(self, timestamp: float | None = None) -> list[str]:
        """The jobs of the lapsed entries this caller claimed (removed) before timestamp."""
        score = current_timestamp() if timestamp is None else timestamp
        claim = self.connection.register_script(CLAIM)
        claimed = []
        for entry in cast("list[bytes]", self.connection.zrangebyscore(self.key, 0, score)):
            job_id = self.parse_job_id(entry.decode())
            # Not ours (another caller's), or the job runs again elsewhere: left alone.
            if claim(keys=[self.key], args=[entry, score, f"{job_id}:"]):
                claimed.append(job_id)
        return claimed


def clean_registries(worker: BaseWorker) -> None:
    """What RQ's BaseWorker.clean_registries does, with the two changes the module names."""
    for queue in worker.queues:
        if queue.acquire_maintenance_lock():
            worker.log.info("cleaning registries for queue: %s", queue.name)
            _clean(queue, worker._exc_handlers)
            worker_registration.clean_worker_registry(queue)
            queue.release_maintenance_lock()  # type: ignore[no-untyped-call]
    worker.last_cleaned_at = now()  # type: ignore[assignment]  # rq declares it None only


def _clean(queue: Queue, handlers: list[Any]) -> None:
    """rq.registry.clean_registries, the started registry's cleanup claiming its entries."""
    options: dict[str, Any] = {
        "name": queue.name,
        "connection": queue.connection,
        "job_class": queue.job_class,
        "serializer": queue.serializer,
    }
    FinishedJobRegistry(**options).cleanup()
    ClaimingStartedRegistry(**options).cleanup(exception_handlers=handlers)
    for registry in (FailedJobRegistry, DeferredJobRegistry, ReadyJobRegistry):
        registry(**options).cleanup()
