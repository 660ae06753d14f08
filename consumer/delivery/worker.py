"""The RQ worker that runs erasure jobs: crash recovery and warm shutdown tuned for us.

Jobs run in the worker process itself (RQ's SimpleWorker: no fork per job), so one Redis
pool serves every job, and one Zeeg connection (requests.Session) every job of a thread. Up to
[delivery] jobs_in_flight jobs run at once, each in a thread (consumer.delivery.inflight);
with 1, in the main thread. What the fork gave, kept:
- job timeouts: RQ's SIGALRM death penalty in the main thread, a timer's in a job thread;
- crash recovery: a thread renews every running job's heartbeat every job_heartbeat_seconds,
  so a SIGKILLed worker's jobs are declared abandoned (and retried) as fast as before;
- warm shutdown: SIGTERM only asks RQ to stop after the running jobs (their DELETEs finish);
  a second SIGTERM is a cold shutdown, and RQ's retry runs the cut jobs again.

RQ declares a job abandoned when its worker's heartbeat is missing for
job_monitoring_interval + 60 s, then retries it (the job carries Retry(max=...)) at the next
registry maintenance. The grace is configurable here, so a killed worker's event is retried
within about maintenance_interval + job_heartbeat + heartbeat_grace seconds.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Any

import redis
from redis.client import Pipeline
from rq import Queue, Retry
from rq.executions import Execution
from rq.job import Job, JobStatus
from rq.rate_limit import release_slot
from rq.registry import StartedJobRegistry
from rq.serializers import JSONSerializer
from rq.utils import now
from rq.worker.base import BaseWorker, WorkerStatus

from consumer.delivery import cleaning, housekeeping, recovery
from consumer.delivery.heartbeat import JobHeartbeat
from consumer.delivery.inflight import InFlightWorker
from consumer.queue import admin_queue
from consumer.settings import Settings

log = logging.getLogger(__name__)

_RQ_GRACE = 60  # what RQ adds to the monitoring interval in get_heartbeat_ttl
# RQ's per-queue registry-cleaning lock lasts 899 s and is only released when the cleaning
# ends: a worker killed (or cut from Redis) mid-clean would stop crash recovery for 15 min.
CLEAN_LOCK_MAX_SECONDS = 60
HEARTBEAT_COALESCE_SECONDS = 1.0


class _JobState(threading.local):
    """What one job's bookkeeping carries between RQ's calls, per thread (jobs in flight)."""

    prepared = False  # _prepare did what perform_job's prepare_job_execution would
    end_beat: int | None = None  # a success's end heartbeat TTL, written with its MULTI


class ErasureWorker(InFlightWorker):
    """An RQ worker running every job in its own process (no fork); a thread beats for them."""

    heartbeat_grace_seconds = _RQ_GRACE
    housekeeping: Callable[[], None] | None = None
    maintained_at: float | None = None  # when maintenance last completed (the health probe)
    _beat: JobHeartbeat | None = None
    _beaten_at = -math.inf  # time.monotonic() of the last default-TTL heartbeat
    _suspension_checked_at = -math.inf

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._job = _JobState()
        self._beat_lock = threading.Lock()

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

    def clean_registries(self) -> None:
        """RQ's registry cleaning, safe beside recovery's (see delivery.cleaning)."""
        cleaning.clean_registries(self)

    def get_heartbeat_ttl(self, job: Job, working_time: float = 0.0) -> int:
        """How long a running job's heartbeat counts: RQ's forking value with our grace.

        Not SimpleWorker's (the whole job timeout + 60 s): our thread renews it meanwhile.
        """
        ttl: int = BaseWorker.get_heartbeat_ttl(self, job, working_time)
        return max(1, ttl - _RQ_GRACE + self.heartbeat_grace_seconds)

    def heartbeat(self, timeout: int | None = None, pipeline: Pipeline | None = None) -> None:
        """RQ's worker heartbeat, its three commands in one round trip when given no pipeline.

        RQ beats with its default TTL up to four times per job (the suspension check, twice
        around the dequeue, after the job): one within HEARTBEAT_COALESCE_SECONDS of the last
        such beat is skipped, as the worker key's TTL (worker_ttl + 60 s) is barely touched.
        A beat with another TTL (a job's) is always written, and the next default one too.
        """
        now = time.monotonic()
        if timeout is None and now - self._beaten_at < HEARTBEAT_COALESCE_SECONDS:
            return
        self._beaten_at = now if timeout is None else -math.inf
        if pipeline is not None:
            super().heartbeat(timeout, pipeline)
            return
        with self.connection.pipeline() as pipe:
            super().heartbeat(timeout, pipe)
            pipe.execute()

    def run_job(self, job: Job, queue: Queue) -> None:
        """Run job in this thread, its heartbeat renewed by a thread as a forking worker's
        parent does."""
        execution = self._prepare(job)
        with self._beat_lock:
            if self._beat is None:
                self._beat = JobHeartbeat(self)
                self._beat.start()
            beat = self._beat
        beat.watch(job, execution)
        try:
            self.perform_job(job, queue, execution)
        finally:
            beat.unwatch(execution)
        # No IDLE here, unlike SimpleWorker: RQ sets it again before its next dequeue, and that
        # write is the one to keep. On a full Redis it fails before a job is popped (never
        # after, which would strand the job), as RQ's own loop does.

    def check_for_suspension(self, burst: bool) -> None:
        """RQ's check for `rq suspend` (one round trip), at most once a second between jobs."""
        now = time.monotonic()
        if now - self._suspension_checked_at < HEARTBEAT_COALESCE_SECONDS:
            return
        self._suspension_checked_at = now
        super().check_for_suspension(burst)

    def _prepare(self, job: Job) -> Execution:
        """RQ's prepare_execution and prepare_job_execution in one transaction (RQ: two)."""
        with self.connection.pipeline() as pipe:
            ttl = self.get_heartbeat_ttl(job)
            execution = Execution.create(job, ttl, pipeline=pipe, worker_name=self.name)
            self.executions[execution.id] = execution
            self.set_state(WorkerStatus.BUSY, pipeline=pipe)
            self.heartbeat(ttl, pipeline=pipe)
            job.heartbeat(now(), ttl, pipeline=pipe)
            job.prepare_for_execution(self.name, pipeline=pipe)
            pipe.persist(job.key)
            # The intermediate entry goes as the job starts, whatever the number of queues (RQ
            # removes it for one queue only): recovery.TakingQueue takes every job through it.
            pipe.lrem(
                Queue(job.origin, connection=self.connection).intermediate_queue_key, 1, job.id
            )
            pipe.execute()
        self._job.prepared = True
        return execution

    def prepare_job_execution(self, job: Job, remove_from_intermediate_queue: bool = False) -> None:
        """Done by _prepare already (perform_job calls this first): RQ's, once, otherwise, its
        intermediate entry removed as it starts (see _prepare)."""
        if self._job.prepared:
            self._job.prepared = False
            return
        super().prepare_job_execution(job, remove_from_intermediate_queue=True)

    def reorder_queues(self, reference_queue: Queue) -> None:
        """RQ's, called as a job is dequeued; the default heartbeat RQ sends right after is
        skipped (coalesced), as the job's preparation beats a moment later."""
        self._beaten_at = time.monotonic()
        super().reorder_queues(reference_queue)

    def _finalize_success(self, job: Job, queue: Queue, execution: Execution, value: Any) -> None:
        """RQ's, the job's end heartbeat written in handle_job_success's transaction."""
        self._job.end_beat = None if isinstance(value, Retry) else -1  # -1: not called yet
        try:
            super()._finalize_success(job, queue, execution, value)
        finally:
            self._job.end_beat = None

    def handle_execution_ended(self, job: Job, queue: Queue, heartbeat_ttl: int) -> None:
        """RQ's end of a job (its ended_at, its heartbeat); the heartbeat deferred on success."""
        if self._job.end_beat is None:
            super().handle_execution_ended(job, queue, heartbeat_ttl)
            return
        job.ended_at = now()
        self._job.end_beat = heartbeat_ttl

    def _write_end_beat(self, job: Job, pipe: Pipeline | None) -> None:
        """The heartbeat handle_execution_ended deferred, into pipe (None: at once)."""
        end_beat = self._job.end_beat
        if end_beat is not None and end_beat >= 0:
            job.heartbeat(now(), end_beat, pipeline=pipe)
        self._job.end_beat = None

    def handle_job_success(
        self, job: Job, queue: Queue, started_job_registry: StartedJobRegistry, execution: Execution
    ) -> None:
        """RQ's success bookkeeping in one transaction; RQ's own takes three round trips.

        RQ WATCHes the job's dependents and reads them (SMEMBERS) before its MULTI, to move
        them in it. Our jobs have none: the same writes go in one MULTI that counts them, and
        a job that has some after all (enqueued by other code) gets RQ's own enqueue_dependents
        after it. A repeating job takes RQ's path unchanged.
        """
        if job.repeats_left:
            self._write_end_beat(job, None)
            super().handle_job_success(job, queue, started_job_registry, execution)
            return
        with self.connection.pipeline() as pipe:
            self._write_end_beat(job, pipe)
            pipe.scard(job.dependents_key)
            self.increment_successful_job_count(pipeline=pipe)
            assert job.ended_at is not None and job.started_at is not None  # set by perform_job
            self.increment_total_working_time(job.ended_at - job.started_at, pipe)
            result_ttl = job.get_result_ttl(self.default_result_ttl)
            if result_ttl != 0:
                job._handle_success(
                    result_ttl,
                    pipeline=pipe,
                    worker_name=self.name,
                    execution_id=execution.id,
                    execution_started_at=execution.created_at,
                    execution_ended_at=job.ended_at,
                )
            job.cleanup(result_ttl, pipeline=pipe, remove_from_queue=False)
            job._status = JobStatus.FINISHED
            self.cleanup_execution(job, pipeline=pipe, execution=execution)
            self.heartbeat(pipeline=pipe)  # the work loop's next one, coalesced there
            dependents = pipe.execute()[0]
        if dependents:
            queue.enqueue_dependents(job)
        release_slot(job)
        taken = job.ended_at - job.started_at
        self.log.info("Successfully completed job %s in %ss on worker %s", job.id, taken, self.name)

    def teardown(self) -> None:
        """The running jobs ended, the heartbeat thread ended, then RQ's teardown (the worker's
        death registered)."""
        self.finish_in_flight()
        if self._beat is not None:
            self._beat.stop()
            self._beat = None
        super().teardown()  # type: ignore[no-untyped-call]  # rq leaves it untyped


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
    worker.queue_class = recovery.TakingQueue  # takes jobs through RQ's intermediate list
    worker.run_in_flight(d.jobs_in_flight)
    if text is not None:
        worker.housekeeping = housekeeping.for_worker(text, queue, settings)
    return worker
