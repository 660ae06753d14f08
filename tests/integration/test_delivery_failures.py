"""Failure paths of delivery: Redis lost mid-job or restarted, Zeeg down, events gone, races."""

from __future__ import annotations

import json
import threading
from typing import Any

from rq.job import Job
from rq.registry import FailedJobRegistry
from rq.serializers import JSONSerializer

from consumer.delivery.policy import handle_delivery
from consumer.delivery.worker import make_worker
from consumer.devtools.sandbox import Sandbox
from consumer.queue import erasure_queue
from consumer.settings import Settings
from consumer.store import audit, events, keys
from consumer.store.connection import Connections, connect
from tests.helpers import ZEEG_TOKEN, context, deletes, drain, free_port, make_settings
from tests.workers import accept_mapped


def test_two_concurrent_runs_of_one_event_record_each_outcome_once(
    sandbox: Sandbox, conns: Connections, settings: Settings, redis_server: Any
) -> None:
    """Two workers on the same event at once: one successful DELETE, one audit entry."""
    sandbox.state.set_faults(latency_ms=600)
    (rid,) = accept_mapped(settings, conns.text, conns.raw, sandbox, 1)
    answers: list[dict[str, Any]] = []

    def run(job_id: str) -> None:
        own = connect(redis_server.url)
        answers.append(handle_delivery(context(settings, own), "userdb", "evt-0", job_id))

    threads = [threading.Thread(target=run, args=(f"job-{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    recorded = [(e["outcome"], e["record_id"]) for e in audit.entries(conns.text)]
    assert recorded == [("deleted", rid)]
    assert len(deletes(sandbox)) == 1
    assert sorted(a["status"] for a in answers) == ["done", "retrying"]


def test_two_runs_of_the_same_job_at_once_record_the_record_once(
    sandbox: Sandbox, conns: Connections, settings: Settings, redis_server: Any
) -> None:
    """A job RQ re-ran while its first run lived on: both may call, one outcome is recorded."""
    sandbox.state.set_faults(latency_ms=600)
    (rid,) = accept_mapped(settings, conns.text, conns.raw, sandbox, 1)

    def run() -> None:
        handle_delivery(context(settings, connect(redis_server.url)), "userdb", "evt-0", "job-x")

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    (entry,) = audit.entries(conns.text)
    (kept,) = events.target_outcomes(conns.text, "userdb", "evt-0")["contacts"]
    assert (entry["record_id"], entry["outcome"]) == (rid, kept.outcome)
    assert len(deletes(sandbox, 200)) == 1


def test_a_run_cut_after_its_records_were_recorded_keeps_their_deletion(
    sandbox: Sandbox, conns: Connections, settings: Settings
) -> None:
    """A re-run after a crash that came after the outcome (and mapping removal): no not_mapped."""
    (rid,) = accept_mapped(settings, conns.text, conns.raw, sandbox, 1)
    handle_delivery(context(settings, conns), "userdb", "evt-0", "job-1")
    # What a run killed before it marked the target done leaves behind.
    conns.text.hdel(keys.event("userdb", "evt-0"), "t:contacts")
    conns.text.hset(keys.event("userdb", "evt-0"), "status", "running")
    again = handle_delivery(context(settings, conns), "userdb", "evt-0", "job-1")
    assert again["outcomes"] == {"contacts": ["deleted"]}
    assert [(e["record_id"], e["outcome"]) for e in audit.entries(conns.text)] == [(rid, "deleted")]
    assert not conns.text.exists(keys.tombstone("userdb", "u-0"))
    assert len(deletes(sandbox)) == 1


def test_zeeg_refusing_connections_is_retried_and_deleted_once_it_is_back(
    conns: Connections, sandbox: Sandbox
) -> None:
    """Connection refused on the first try: one attempt spent, then the record is deleted."""
    port = free_port()
    settings = make_settings(f"http://127.0.0.1:{port}/v2")
    (rid,) = accept_mapped(settings, conns.text, conns.raw, sandbox, 1)
    first = handle_delivery(context(settings, conns), "userdb", "evt-0")
    later = Sandbox(token=ZEEG_TOKEN, port=port)
    later.state.seed("contacts", [{"id": rid}])
    later.start()
    try:
        drain(settings, conns)
    finally:
        later.stop()
    assert first["status"] == "retrying"
    assert [a.get("status") for a in events.attempts(conns.text, "userdb", "evt-0")] == [None, 200]
    assert rid not in later.state.records["contacts"]


def test_exhausted_retries_fail_visibly_and_a_requeue_delivers_them(
    cli: Any, sandbox: Sandbox, conns: Connections, settings: Settings
) -> None:
    """Zeeg answers 503 past max_attempts: failed and listed; once it is back, requeue deletes."""
    sandbox.state.set_faults(always={"status": 503})
    (rid,) = accept_mapped(settings, conns.text, conns.raw, sandbox, 1)
    drain(settings, conns)
    (row,) = json.loads(cli("failed", "--json").output)
    sandbox.state.set_faults(always=None)
    assert cli("requeue", "--all", "--reason", "zeeg is back").exit_code == 0
    drain(settings, conns)
    assert (row["event_id"], "retries exhausted" in row["reason"]) == ("evt-0", True)
    assert events.load(conns.text, "userdb", "evt-0").status == "done"  # type: ignore[union-attr]
    assert rid not in sandbox.state.records["contacts"]


def test_a_job_whose_event_record_is_gone_fails_visibly_without_a_call(
    sandbox: Sandbox, conns: Connections, settings: Settings
) -> None:
    """The event hash expired or was lost: the job fails with the reason, Zeeg is not called."""
    accept_mapped(settings, conns.text, conns.raw, sandbox, 1)
    conns.text.delete(keys.event("userdb", "evt-0"))
    drain(settings, conns)
    (job_id,) = FailedJobRegistry(queue=erasure_queue(conns.raw)).get_job_ids()
    result = Job.fetch(job_id, connection=conns.raw, serializer=JSONSerializer).latest_result()
    assert result is not None
    assert "event userdb/evt-0 is unknown or past retention" in str(result.exc_string)
    assert sandbox.state.requests() == []


def test_a_cleaning_lock_left_by_a_worker_killed_mid_clean_lasts_a_minute_at_most(
    conns: Connections, settings: Settings
) -> None:
    """RQ's 899 s lock, orphaned by a SIGKILL, would stop crash recovery for 15 minutes."""
    queue = erasure_queue(conns.raw)
    conns.raw.set(queue.registry_cleaning_key, 1, ex=899)
    make_worker(settings, queue).run_maintenance_tasks()
    assert 0 < conns.raw.ttl("rq:clean_registries:zc-erasure") <= 60
