"""Jobs are written small: no empty RQ fields; RQ still reads them, and finished ones go sooner."""

from __future__ import annotations

import time

from rq.job import Job
from rq.serializers import JSONSerializer

from consumer import queue
from consumer.queue import erasure_queue
from consumer.settings import Settings
from consumer.store.connection import Connections
from tests.helpers import accept_event, drain


def test_a_new_job_hash_has_no_empty_fields_and_rq_reads_it(conns: Connections) -> None:
    """Accepted and rescheduled jobs alike: every stored field has a value; fetch sees it queued."""
    accept_event(conns, "evt-1", "u-1", time.time())
    q = erasure_queue(conns.raw)
    queue.enqueue(q, "userdb", "evt-1", "later-job", 300, delay=60)
    for job_id in (q.get_job_ids()[0], "later-job"):
        stored = conns.raw.hgetall(queue.job_key(job_id))
        assert stored and [f for f, v in stored.items() if v == b""] == []
        job = Job.fetch(job_id, connection=conns.raw, serializer=JSONSerializer)
        assert (job.args, job.worker_name, job.started_at) == (["userdb", "evt-1"], None, None)
    assert queue.fetch(q, "later-job").status == "scheduled"  # type: ignore[union-attr]


def test_a_finished_job_is_kept_an_hour(settings: Settings, conns: Connections) -> None:
    """After delivery the job's hash expires within RESULT_TTL (an hour), not a day."""
    accept_event(conns, "evt-1", "u-1", time.time())
    job_id = erasure_queue(conns.raw).get_job_ids()[0]
    drain(settings, conns)
    assert 0 < conns.raw.ttl(queue.job_key(job_id)) <= 3600
