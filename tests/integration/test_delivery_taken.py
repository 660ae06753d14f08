"""A job a worker has taken but not started is in RQ's intermediate list, never in no list."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from rq.job import JobStatus

from consumer.delivery import recovery
from consumer.delivery.worker import make_worker
from consumer.devtools.sandbox import Sandbox
from consumer.queue import admin_queue, erasure_queue
from consumer.settings import Settings
from consumer.store.connection import Connections
from tests.workers import Workers, accept_mapped


def test_a_job_taken_by_an_erasure_worker_waits_in_the_intermediate_list(
    sandbox: Sandbox, conns: Connections, settings: Settings
) -> None:
    """The worker listens on two queues, where RQ pops (BLPOP) and a kill would lose the job:
    its pop moves the job to the intermediate list, from which a killed worker's job returns."""
    accept_mapped(settings, conns.text, conns.raw, sandbox, 1)
    queue = erasure_queue(conns.raw)
    (job_id,) = queue.get_job_ids()
    worker = make_worker(settings, queue)
    assert [q.name for q in worker.queues] == [admin_queue(conns.raw).name, queue.name]
    # What RQ's work loop calls to take a job (the worker is killed right after, here).
    taken = worker.queue_class.dequeue_any(worker.queues, 1, connection=conns.raw)
    assert taken is not None and taken[0].id == job_id
    assert queue.intermediate_queue.get_job_ids() == [job_id]
    assert queue.get_job_ids() == []


def test_an_idle_worker_still_takes_an_admin_job_first(
    sandbox: Sandbox, conns: Connections, settings: Settings
) -> None:
    """Both queues are looked at on each pop, the admin queue first, as RQ's own pop does."""
    accept_mapped(settings, conns.text, conns.raw, sandbox, 1)
    admin = admin_queue(conns.raw)
    admin.enqueue("builtins.len", "x", job_id="admin-job")
    worker = make_worker(settings, erasure_queue(conns.raw))
    taken = worker.queue_class.dequeue_any(worker.queues, 1, connection=conns.raw)
    assert taken is not None and taken[0].id == "admin-job"
    assert admin.intermediate_queue.get_job_ids() == ["admin-job"]


def test_jobs_run_by_a_worker_leave_nothing_in_the_intermediate_list(
    sandbox: Sandbox, conns: Connections, settings: Settings, redis_server: Any, tmp_path: Path
) -> None:
    """Each entry goes when its job starts: none is left for RQ's cleanup to fail a minute on."""
    accept_mapped(settings, conns.text, conns.raw, sandbox, 3)
    procs = Workers(tmp_path, redis_server.url, sandbox)
    argv = [sys.executable, "-m", "consumer", "worker", "--sandbox", "--burst"]
    subprocess.run(argv, env=procs.env, check=True, timeout=60, capture_output=True)
    queue = erasure_queue(conns.raw)
    assert len(sandbox.state.requests()) == 3
    assert conns.raw.llen(queue.intermediate_queue.key) == 0
    assert list(conns.raw.scan_iter(f"{queue.intermediate_queue.key}:first_seen:*")) == []


def test_a_lapsed_entry_of_a_job_running_again_elsewhere_is_dropped_not_retried(
    sandbox: Sandbox, conns: Connections, settings: Settings
) -> None:
    """An old execution's heartbeat lapsed, but the job runs again with a live one: no retry.

    (A job requeued from the intermediate list after its worker died between registering
    and starting it.) Without the live entry, the same lapsed entry is retried, at the front.
    """
    accept_mapped(settings, conns.text, conns.raw, sandbox, 2)
    queue = erasure_queue(conns.raw)
    first, second = queue.get_job_ids()
    conns.raw.lrem(queue.key, 1, first)
    queue.fetch_job(first).set_status(JobStatus.STARTED)
    now = time.time()
    conns.raw.zadd(
        queue.started_job_registry.key, {f"{first}:old": now - 1, f"{first}:new": now + 60}
    )
    assert recovery.retry_abandoned(queue, now) == 0
    assert queue.get_job_ids() == [second]
    assert conns.raw.zrange(queue.started_job_registry.key, 0, -1) == [f"{first}:new".encode()]
    conns.raw.zadd(queue.started_job_registry.key, {f"{first}:new": now - 1})
    assert recovery.retry_abandoned(queue, now) == 1
    assert queue.get_job_ids() == [first, second]
