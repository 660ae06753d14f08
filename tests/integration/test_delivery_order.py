"""Retries go ahead of fresh work: a real worker, a backlog, the sandbox's 503 and 429."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from consumer.devtools.sandbox import Sandbox
from consumer.queue import enqueue, erasure_queue, resume
from consumer.settings import Settings
from consumer.store import pause
from consumer.store.connection import Connections
from tests.helpers import RedisServer, deletes
from tests.workers import Workers, accept_mapped, all_done, wait_until

BACKLOG = 300


@pytest.mark.parametrize("fault", [{"status": 503}, {"status": 429, "retry_after": "1"}])
def test_a_retried_event_goes_ahead_of_the_backlog_queued_after_it(
    tmp_path: Path,
    redis_server: RedisServer,
    sandbox: Sandbox,
    settings: Settings,
    conns: Connections,
    fault: dict[str, object],
) -> None:
    """The first DELETE fails (a 5xx backoff, or a 429 hold of 1 s); its event's retry is
    due long before the backlog behind it drains, and it runs then, not after the backlog."""
    # 10 ms a DELETE per job in flight: about 3 s of backlog, however many the worker runs.
    latency = 10 * settings.delivery.jobs_in_flight
    sandbox.state.set_faults(latency_ms=latency, script=[{**fault, "only": "DELETE"}])
    rids = accept_mapped(settings, conns.text, conns.raw, sandbox, BACKLOG)
    procs = Workers(tmp_path, redis_server.url, sandbox, zeeg={"rate_limit_per_second": 0})
    try:
        procs.start(1)
        wait_until(all_done(conns.text, BACKLOG), 120, "the drain\n" + procs.logs())
    finally:
        procs.stop()
    calls = deletes(sandbox)
    (retried,) = [r["path"] for r in calls if r["status"] == fault["status"]]
    done = [r for r in calls if r["status"] == 200]
    assert len(done) == BACKLOG == len({r["path"] for r in done}) == len(rids)
    assert calls[0]["path"] == retried  # the first event taken: all the backlog behind it
    position = [r["path"] for r in done].index(retried)
    # About 300 x 10 ms of backlog; the retry is due within 0.2 s (1 s for the 429), and the
    # scheduler moves it to the queue within its second: it runs well before the backlog ends.
    assert position < BACKLOG // 2, f"the retry ran {position + 1}th of {BACKLOG}"


def test_jobs_woken_by_a_resume_go_ahead_of_the_backlog(
    settings: Settings, conns: Connections, sandbox: Sandbox
) -> None:
    """A job waiting for the auth pause, woken by the operator's resume, runs before the events
    queued while delivery was paused."""
    queue = erasure_queue(conns.raw)
    enqueue(queue, "userdb", "evt-waiting", "waiting-job", 60, delay=3600, at_front=True)
    pause.note_waiting(conns.text, "waiting-job")
    pause.pause(conns.text, "token revoked", time.time(), by="ops")
    accept_mapped(settings, conns.text, conns.raw, sandbox, 3)
    assert resume(queue).lifted
    assert queue.get_job_ids()[0] == "waiting-job"
    assert len(queue.get_job_ids()) == 4
