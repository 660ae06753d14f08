"""The retention timings the soak shortens are real settings: the trim interval and how long
RQ keeps a finished job and its result."""

from __future__ import annotations

import time

from consumer import queue
from consumer.delivery import jobs
from consumer.delivery.worker import make_worker
from consumer.devtools.sandbox import Sandbox
from consumer.queue import erasure_queue
from consumer.store import keys
from consumer.store.connection import Connections
from tests.helpers import accept_event, context, make_settings


def test_a_finished_job_and_its_result_are_kept_job_result_seconds(
    sandbox: Sandbox, conns: Connections
) -> None:
    """[retention] job_result_seconds = 120: the job hash and its result expire within 120 s."""
    settings = make_settings(sandbox.url, retention={"job_result_seconds": 120})
    accept_event(conns, "evt-1", "u-1", time.time())
    job_id = erasure_queue(conns.raw).get_job_ids()[0]
    jobs.set_context(context(settings, conns))
    make_worker(settings, erasure_queue(conns.raw)).work(burst=True)  # the worker command's class
    assert conns.raw.hget(queue.job_key(job_id), "status") == b"finished"
    assert 0 < conns.raw.ttl(queue.job_key(job_id)) <= 120
    assert 0 < conns.raw.ttl(f"rq:results:{job_id}") <= 120


def test_workers_trim_once_per_trim_interval_seconds(sandbox: Sandbox, conns: Connections) -> None:
    """[retention] trim_interval_seconds = 30: the next trim is due within 30 s, not an hour."""
    settings = make_settings(sandbox.url, retention={"trim_interval_seconds": 30})
    worker = make_worker(settings, erasure_queue(conns.raw), conns.text)
    assert worker.housekeeping is not None
    worker.housekeeping()
    assert 0 < conns.text.ttl(keys.TRIMMED) <= 30
