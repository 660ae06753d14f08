"""RQ's registry cleaning beside recovery: one retry per abandoned job, no first-seen keys."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from rq import Queue
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer

from consumer.delivery import recovery
from consumer.delivery.worker import make_worker
from consumer.devtools.sandbox import Sandbox
from consumer.queue import erasure_queue, job_counts
from consumer.settings import Settings
from consumer.store import keys
from consumer.store.connection import Connections
from tests.helpers import RedisServer
from tests.workers import Workers, accept_mapped, all_done, wait_until


def _abandoned(settings: Settings, conns: Connections, sandbox: Sandbox) -> str:
    """One erasure job left started by a killed worker: its heartbeat lapsed a second ago."""
    accept_mapped(settings, conns.text, conns.raw, sandbox, 1)
    queue = erasure_queue(conns.raw)
    (job_id,) = queue.get_job_ids()
    conns.raw.lrem(queue.key, 1, job_id)
    queue.fetch_job(job_id).set_status(JobStatus.STARTED)
    conns.raw.zadd(queue.started_job_registry.key, {f"{job_id}:dead": time.time() - 1})
    return job_id


def _interleaved(conns: Connections) -> Queue:
    """The erasure queue whose job lookups let another worker's maintenance run right after
    each one: as RQ's cleanup has fetched a lapsed job and not yet retried it."""
    other = erasure_queue(conns.raw)

    class Interleaved(Job):
        @classmethod
        def fetch(cls, *args: Any, **kwargs: Any) -> Job:
            job = super().fetch(*args, **kwargs)
            recovery.retry_abandoned(other, time.time())
            return job

    return Queue(keys.QUEUE, connection=conns.raw, serializer=JSONSerializer, job_class=Interleaved)


def test_an_abandoned_job_is_retried_once_when_two_maintenances_meet(
    settings: Settings, conns: Connections, sandbox: Sandbox
) -> None:
    """One worker's registry cleaning (RQ's) and another's recovery at the same moment: the
    job is queued once, one retry spent. (Status' count of running jobs ran the same RQ
    cleanup, outside any lock: it no longer cleans, see the next test.)"""
    job_id = _abandoned(settings, conns, sandbox)
    queue = _interleaved(conns)
    make_worker(settings, queue).clean_registries()
    recovery.retry_abandoned(erasure_queue(conns.raw), time.time())  # a later maintenance
    assert queue.get_job_ids() == [job_id]
    job = erasure_queue(conns.raw).fetch_job(job_id)
    assert job is not None and (job.get_status(), job.retries_left) == ("queued", 4)


def test_status_counts_an_abandoned_job_as_running_until_recovered(
    settings: Settings, conns: Connections, sandbox: Sandbox
) -> None:
    """Reading the counts changes nothing: recovery, not a status call, retries the job."""
    job_id = _abandoned(settings, conns, sandbox)
    queue = erasure_queue(conns.raw)
    assert (job_counts(queue).running, queue.get_job_ids()) == (1, [])
    assert recovery.retry_abandoned(queue, time.time()) == 1
    assert (job_counts(queue).running, queue.get_job_ids()) == (0, [job_id])


def _first_seen(conns: Connections) -> list[bytes]:
    return list(conns.raw.scan_iter("rq:queue:*:intermediate:first_seen:*"))


def test_a_maintenance_leaves_no_first_seen_key_for_a_job_taken_but_not_started(
    settings: Settings, conns: Connections, sandbox: Sandbox
) -> None:
    """A job between its pop and its start when a maintenance runs: RQ stamped it for a day."""
    accept_mapped(settings, conns.text, conns.raw, sandbox, 1)
    queue = erasure_queue(conns.raw)
    worker = make_worker(settings, queue)
    assert worker.queue_class.dequeue_any(worker.queues, 1, connection=conns.raw) is not None
    worker.clean_registries()
    assert _first_seen(conns) == []
    assert len(queue.intermediate_queue.get_job_ids()) == 1  # still there, for recovery


def test_four_workers_leave_no_first_seen_keys_after_hundreds_of_jobs(
    tmp_path: Path,
    redis_server: RedisServer,
    sandbox: Sandbox,
    settings: Settings,
    conns: Connections,
) -> None:
    """Each maintenance (every second here) caught some worker's job between pop and start."""
    n = 400
    sandbox.state.set_faults(latency_ms=5)
    accept_mapped(settings, conns.text, conns.raw, sandbox, n)
    procs = Workers(tmp_path, redis_server.url, sandbox, zeeg={"rate_limit_per_second": 0})
    try:
        procs.start(4)
        wait_until(all_done(conns.text, n), 120, "the drain\n" + procs.logs())
    finally:
        procs.stop()
    assert _first_seen(conns) == []
