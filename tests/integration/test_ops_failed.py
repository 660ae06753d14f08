"""`failed` over HTTP, and the reason it gives for a job RQ failed outside delivery."""

from __future__ import annotations

import time

from flask.testing import FlaskClient
from rq import Worker
from rq.job import Job
from rq.serializers import JSONSerializer

from consumer.devtools.sandbox import Sandbox
from consumer.ops import Ops
from consumer.ops import failed as fl
from consumer.ops.failed import list_failed
from consumer.queue import erasure_queue, fetch
from consumer.settings import Settings
from consumer.store import events
from consumer.store.connection import Connections
from tests.helpers import accept_event, failed_events

NOW = time.time()


def test_failed_lists_the_rq_reason_of_a_job_killed_outside_delivery(
    settings: Settings, conns: Connections
) -> None:
    """A job RQ failed itself (a timeout) shows RQ's exception line, not "event expired"."""
    queue = erasure_queue(conns.raw)
    accept_event(conns, "e-1", "u-1", NOW, dedupe_ttl_days=7, retention_days=30)
    (job,) = Job.fetch_many(queue.get_job_ids(), connection=conns.raw, serializer=JSONSerializer)
    assert job is not None
    events.mark_running(conns.text, "userdb", "e-1", job.id, NOW)
    job.retries_left = 0
    worker = Worker([queue], connection=conns.raw, serializer=JSONSerializer)
    line = "rq.timeouts.JobTimeoutException: Task exceeded maximum timeout value (300 seconds)"
    worker.handle_job_failure(
        job, queue, exc_string=f"Traceback (most recent call last):\n{line}\n"
    )
    (row,) = list_failed(Ops(settings, conns))
    assert (row["event_id"], row["reason"]) == ("e-1", line)


def test_failed_show_endpoint_gives_the_job_and_its_trail(
    admin: FlaskClient,
    client: FlaskClient,
    settings: Settings,
    conns: Connections,
    sandbox: Sandbox,
) -> None:
    """GET /admin/failed/<job_id> is the `failed show` answer: the event, its error, the trail."""
    failed_events(client, settings, conns, sandbox, 1)
    (job,) = admin.get("/admin/failed").get_json()["failed"]
    shown = admin.get(f"/admin/failed/{job['job_id']}").get_json()
    assert (shown["job_id"], shown["event_id"], shown["status"]) == (job["job_id"], "e-1", "failed")
    assert "400" in shown["last_error"]
    assert shown["trail"][-1]["what"] == "failed"


def test_a_requeue_of_a_job_another_operator_just_requeued_is_skipped(
    client: FlaskClient,
    settings: Settings,
    conns: Connections,
    sandbox: Sandbox,
) -> None:
    """Two requeues that both saw the failed job enqueue it once; the second says so."""
    failed_events(client, settings, conns, sandbox, 1)
    ops = Ops(settings, conns)
    (row,) = list_failed(ops)
    seen = fetch(erasure_queue(conns.raw), row["job_id"])
    first = fl._requeue_one(ops, seen, "ana", "fixed")
    second = fl._requeue_one(ops, seen, "bo", "fixed too")
    assert first["job_id"] and (second["job_id"], second["skipped"]) == (None, "requeued already")
    assert erasure_queue(conns.raw).get_job_ids() == [first["job_id"]]
    notes = [t for t in events.trail(conns.text, "userdb", "e-1") if t["what"] == "requeued"]
    assert [n["by"] for n in notes] == ["ana"]
