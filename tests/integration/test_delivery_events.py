"""The per-event status record, the pending/at-risk set, the backlog, keys, worker timings."""

from __future__ import annotations

import time

from rq.registry import ScheduledJobRegistry

from consumer.delivery.worker import make_worker
from consumer.devtools.sandbox import Sandbox
from consumer.queue import erasure_queue
from consumer.settings import Settings
from consumer.store import backlog, events, keys, pause
from consumer.store.connection import Connections
from tests.helpers import accept_event, drain, make_settings
from tests.workers import accept_mapped

HOUR = 3600.0


def test_new_keys_are_these_literal_strings(conns: Connections) -> None:
    """Our keys, and RQ's own name for the scheduled registry resume() writes to."""
    assert (keys.PROBE, keys.PENDING, keys.WAITING) == ("zc:probe", "zc:pending", "zc:waiting")
    assert keys.RQ_SCHEDULED == "rq:scheduled:zc-erasure"
    assert ScheduledJobRegistry(queue=erasure_queue(conns.raw)).key == keys.RQ_SCHEDULED


def test_intake_counts_an_event_as_pending(conns: Connections) -> None:
    """An accepted event is pending until done."""
    accept_event(conns, "evt:with:colons", "u-x", time.time())
    assert events.pending_count(conns.text) == 1


def test_events_older_than_the_sla_are_at_risk(conns: Connections) -> None:
    """Received 73 h ago and not done: at risk at sla_hours 72; one received now is not."""
    now = time.time()
    accept_event(conns, "old:1", "u-x", now - 73 * HOUR)
    accept_event(conns, "new", "u-x", now)
    assert events.at_risk_count(conns.text, now, 72) == 1
    assert events.at_risk(conns.text, now, 72) == [("userdb", "old:1", now - 73 * HOUR)]


def test_done_event_leaves_the_pending_set_with_its_trail_complete(
    sandbox: Sandbox, conns: Connections, settings: Settings
) -> None:
    """received, run, attempt (time, status), outcome, done; then no longer pending."""
    accept_mapped(settings, conns.text, conns.raw, sandbox, 1)
    drain(settings, conns)
    trail = events.trail(conns.text, "userdb", "evt-0")
    assert [t["what"] for t in trail] == ["received", "run", "attempt", "outcome", "done"]
    (attempt,) = events.attempts(conns.text, "userdb", "evt-0")
    assert attempt["status"] == 200 and attempt["at"] > 0
    assert events.pending_count(conns.text) == 0


def test_failed_event_stays_pending_so_it_turns_at_risk(
    sandbox: Sandbox, conns: Connections, settings: Settings
) -> None:
    """A failed erasure has not happened: still pending, at risk once past the SLA."""
    sandbox.state.set_faults(script=[{"status": 400}])
    accept_mapped(settings, conns.text, conns.raw, sandbox, 1)
    drain(settings, conns)
    assert events.pending_count(conns.text) == 1
    assert events.at_risk_count(conns.text, time.time() + 73 * HOUR, 72) == 1


def test_backlog_counts_scheduled_failed_pending_and_the_pause(
    sandbox: Sandbox, conns: Connections, settings: Settings
) -> None:
    """What `status` shows: one event waiting on a 429 hold, one failed, delivery paused."""
    sandbox.state.set_faults(script=[{"status": 422}, {"status": 429, "retry_after": "60"}])
    accept_mapped(settings, conns.text, conns.raw, sandbox, 2)
    drain(settings, conns, run_for=0.1)
    pause.pause(conns.text, "maintenance", 5.0, by="operator")
    now = time.time()
    got = backlog.backlog(conns.text, erasure_queue(conns.raw), now, 72)
    assert (got.queued, got.scheduled, got.running, got.failed) == (0, 1, 0, 1)
    assert (got.pending, got.at_risk) == (2, 0)
    assert got.paused == pause.PauseState("maintenance", 5.0, "operator")
    assert 55 < got.held_for <= 60


def test_worker_declares_a_silent_job_abandoned_after_heartbeat_plus_grace(
    conns: Connections,
) -> None:
    """RQ's 60 s grace is replaced by heartbeat_grace_seconds."""
    settings = make_settings(delivery={"job_heartbeat_seconds": 3, "heartbeat_grace_seconds": 7})
    queue = erasure_queue(conns.raw)
    worker = make_worker(settings, queue)
    job = queue.enqueue("consumer.delivery.jobs.deliver", "userdb", "e", job_timeout=300)
    assert worker.get_heartbeat_ttl(job) == 3 + 7
    assert worker.dequeue_timeout == settings.delivery.maintenance_interval_seconds


def test_worker_maintenance_trims_retention_once_an_hour(conns: Connections) -> None:
    """Entries past retention go at a worker's maintenance; a second worker's run skips."""
    settings = make_settings(intake={"event_log_retention_days": 1.0})
    old_ms, new_ms = int((time.time() - 2 * 86400) * 1000), int(time.time() * 1000)
    conns.text.xadd(keys.EVENT_LOG, {"source": "userdb"}, id=f"{old_ms}-0")
    conns.text.xadd(keys.EVENT_LOG, {"source": "userdb"}, id=f"{new_ms}-0")
    make_worker(settings, erasure_queue(conns.raw), text=conns.text).run_maintenance_tasks()
    assert conns.text.xlen(keys.EVENT_LOG) == 1
    assert keys.TRIMMED == "zc:trimmed" and conns.text.ttl(keys.TRIMMED) > 3500
    # A pending entry whose event expired long ago: the next trim would drop it.
    conns.text.zadd(keys.PENDING, {"userdb:gone": time.time() - 2 * 86400})
    make_worker(settings, erasure_queue(conns.raw), text=conns.text).run_maintenance_tasks()
    assert conns.text.zscore(keys.PENDING, "userdb:gone") is not None  # within the hour: skipped
    conns.text.delete(keys.TRIMMED)
    make_worker(settings, erasure_queue(conns.raw), text=conns.text).run_maintenance_tasks()
    assert conns.text.zscore(keys.PENDING, "userdb:gone") is None


def test_a_job_stored_under_the_pre_upgrade_name_is_run_and_deletes_its_record(
    sandbox: Sandbox, conns: Connections, settings: Settings
) -> None:
    """A job naming consumer.jobs.deliver (stored before 0.2.0) runs in a real worker."""
    (rid,) = accept_mapped(settings, conns.text, conns.raw, sandbox, 1)
    queue = erasure_queue(conns.raw)
    job_id = events.load(conns.text, "userdb", "evt-0").job_id  # type: ignore[union-attr]
    # What intake stored before the upgrade: the same job under the function's old name.
    queue.fetch_job(job_id).delete()  # type: ignore[union-attr]
    old = queue.enqueue("consumer.jobs.deliver", "userdb", "evt-0", job_id=job_id)
    assert old.func_name == "consumer.jobs.deliver"
    drain(settings, conns)
    assert old.get_status() == "finished"
    assert rid not in sandbox.state.records["contacts"]
    assert events.load(conns.text, "userdb", "evt-0").status == "done"  # type: ignore[union-attr]
