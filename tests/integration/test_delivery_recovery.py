"""Crash recovery through real workers: jobs taken but not started, a dead scheduler's lock."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

from rq.scheduler import RQScheduler

from consumer.devtools.sandbox import Sandbox
from consumer.queue import erasure_queue
from consumer.settings import Settings
from consumer.store import events
from consumer.store.connection import Connections
from tests.workers import Workers, accept_mapped, all_done, kill_tree, wait_until


def test_a_job_taken_by_a_killed_worker_but_not_started_runs_within_seconds(
    sandbox: Sandbox, conns: Connections, settings: Settings, redis_server: Any, tmp_path: Path
) -> None:
    """A job left in RQ's intermediate queue (its taker died) runs again within 10 s, not 60."""
    (rid,) = accept_mapped(settings, conns.text, conns.raw, sandbox, 1)
    queue = erasure_queue(conns.raw)
    # What a worker killed between taking the job and starting it leaves behind.
    assert conns.raw.lmove(queue.key, queue.intermediate_queue.key) is not None
    procs = Workers(tmp_path, redis_server.url, sandbox)
    started = time.monotonic()
    try:
        procs.start(1)
        wait_until(all_done(conns.text, 1), 10, "the stranded job\n" + procs.logs())
    finally:
        procs.stop()
    assert time.monotonic() - started < 10
    assert rid not in sandbox.state.records["contacts"]
    assert conns.raw.llen(queue.intermediate_queue.key) == 0


def test_a_retry_scheduled_after_its_scheduler_was_killed_runs_within_seconds(
    sandbox: Sandbox, conns: Connections, settings: Settings, redis_server: Any, tmp_path: Path
) -> None:
    """The scheduler lock of a SIGKILLed worker is released: a retry runs within 10 s, not 61."""
    procs = Workers(tmp_path, redis_server.url, sandbox)
    lock = RQScheduler.get_locking_key(erasure_queue(conns.raw).name)
    (first,) = procs.start(1)
    try:
        wait_until(lambda: conns.raw.exists(lock) == 1, 15, "the first scheduler\n" + procs.logs())
        kill_tree(first.pid, signal.SIGKILL)
        first.wait(5)
        sandbox.state.set_faults(script=[{"status": 503}])
        (rid,) = accept_mapped(settings, conns.text, conns.raw, sandbox, 1)
        started = time.monotonic()
        procs.start(1)
        wait_until(all_done(conns.text, 1), 10, "the scheduled retry\n" + procs.logs())
    finally:
        procs.stop()
    assert time.monotonic() - started < 10
    assert [t["what"] for t in events.trail(conns.text, "userdb", "evt-0")].count("retrying") == 1
    assert rid not in sandbox.state.records["contacts"]


def test_a_job_whose_worker_was_killed_runs_again_before_the_backlog(
    sandbox: Sandbox, conns: Connections, settings: Settings, redis_server: Any, tmp_path: Path
) -> None:
    """The crash retry goes to the front of the queue: it does not wait behind later events.

    The worker runs its jobs in its own process (no work horse), so the kill is the worker's;
    the job is found abandoned once its heartbeat lapses, while the later events (400 ms
    each, 20 per job the worker runs at once: about 8 s of backlog) are still being deleted,
    and runs before the last of them.
    """
    later_events = 20 * settings.delivery.jobs_in_flight
    accept_mapped(settings, conns.text, conns.raw, sandbox, later_events + 1)
    sandbox.state.set_faults(
        latency_ms=400, script=[{"delay_ms": 3000, "answer": True, "only": "DELETE"}]
    )
    procs = Workers(tmp_path, redis_server.url, sandbox)
    (proc,) = procs.start(1)
    try:
        running = lambda: events.load(conns.text, "userdb", "evt-0").status == "running"  # noqa: E731
        wait_until(running, 15, "the first run\n" + procs.logs())
        kill_tree(proc.pid, signal.SIGKILL)
        proc.wait(5)
        procs.start(1)
        wait_until(all_done(conns.text, later_events + 1), 60, "the drain\n" + procs.logs())
    finally:
        procs.stop()
    runs = [
        float(t["at"]) for t in events.trail(conns.text, "userdb", "evt-0") if t["what"] == "run"
    ]
    later = [
        min(
            float(t["at"])
            for t in events.trail(conns.text, "userdb", f"evt-{i}")
            if t["what"] == "run"
        )
        for i in range(1, later_events + 1)
    ]
    assert len(runs) == 2 and runs[1] < max(later)
