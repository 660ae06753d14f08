"""Several erasure jobs in flight in one worker process ([delivery] jobs_in_flight)."""

from __future__ import annotations

import collections
import concurrent.futures
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from rq import Worker

from consumer.devtools.sandbox import Sandbox
from consumer.models import Mapping
from consumer.queue import erasure_queue
from consumer.settings import Settings
from consumer.store import audit, events, mappings
from consumer.store.connection import Connections
from tests.helpers import RedisServer, accept_event, deletes, make_settings
from tests.workers import Workers, accept_mapped, all_done, kill_tree, wait_until

UNLIMITED = {"rate_limit_per_second": 0}


MakeWorkers = Callable[..., Workers]


@pytest.fixture
def make_workers(
    tmp_path: Path, redis_server: RedisServer, sandbox: Sandbox
) -> Iterator[MakeWorkers]:
    """Worker sets with n jobs in flight each (in their own directory), all stopped after."""
    made: list[Workers] = []

    def make(n: int, **sections: Any) -> Workers:
        delivery = {"jobs_in_flight": n, **sections.pop("delivery", {})}
        zeeg = sections.pop("zeeg", UNLIMITED)
        directory = tmp_path / f"workers-{len(made)}"
        directory.mkdir()
        procs = Workers(directory, redis_server.url, sandbox, delivery=delivery, zeeg=zeeg)
        made.append(procs)
        return procs

    yield make
    for procs in made:
        procs.stop()


DRAINED = 24


def _drain_seconds(
    make_workers: MakeWorkers, settings: Settings, conns: Connections, sandbox: Sandbox, n: int
) -> float:
    """One worker with n jobs in flight over DRAINED events: first to last DELETE answered."""
    conns.text.flushall()
    sandbox.state.reset()
    sandbox.state.set_faults(latency_ms=100)
    accept_mapped(settings, conns.text, conns.raw, sandbox, DRAINED)
    procs = make_workers(n)
    procs.start(1)
    wait_until(all_done(conns.text, DRAINED), 30, "the drain")
    procs.stop()
    at = sorted(float(r["at"]) for r in deletes(sandbox, 200))
    assert len(at) == DRAINED
    return at[-1] - at[0]


def test_four_jobs_in_flight_overlap_four_deletes_and_drain_faster_than_one(
    make_workers: MakeWorkers,
    settings: Settings,
    conns: Connections,
    sandbox: Sandbox,
) -> None:
    """Sandbox at 100 ms: 4 DELETEs at once with 4 in flight, 1 with 1; over 2.5x faster."""
    one = _drain_seconds(make_workers, settings, conns, sandbox, 1)
    assert sandbox.state.max_in_flight == 1
    four = _drain_seconds(make_workers, settings, conns, sandbox, 4)
    assert sandbox.state.max_in_flight == 4
    assert one / four > 2.5, (one, four)


def test_each_job_thread_keeps_its_connection_across_its_jobs(
    make_workers: MakeWorkers,
    settings: Settings,
    conns: Connections,
    sandbox: Sandbox,
) -> None:
    """20 events, 4 in flight: 20 DELETEs answered 200 over 4 TCP connections, one a thread."""
    sandbox.state.set_faults(latency_ms=30)
    accept_mapped(settings, conns.text, conns.raw, sandbox, 20)
    procs = make_workers(4)
    procs.start(1)
    wait_until(all_done(conns.text, 20), 30, "all events done\n" + procs.logs())
    assert [r["status"] for r in deletes(sandbox)] == [200] * 20
    assert (sandbox.state.connections, sandbox.state.max_in_flight) == (4, 4)


def test_sigkill_with_four_jobs_running_retries_each_and_deletes_each_record_once(
    make_workers: MakeWorkers,
    settings: Settings,
    conns: Connections,
    sandbox: Sandbox,
) -> None:
    """Kill -9 with 4 DELETEs in flight: all 4 retried by the next worker, one 200 and one
    audit entry per record."""
    sandbox.state.set_faults(script=[{"delay_ms": 10000, "only": "DELETE"}] * 4)
    rids = accept_mapped(settings, conns.text, conns.raw, sandbox, 4)
    procs = make_workers(4)
    (first,) = procs.start(1)
    wait_until(lambda: sandbox.state.in_flight == 4, 30, "4 DELETEs in flight\n" + procs.logs())
    (worker,) = Worker.all(connection=conns.raw)  # one registration, as `rq info` shows it
    running = erasure_queue(conns.raw).started_job_registry
    assert (worker.get_state(), worker.current_execution_count, running.count) == ("busy", 4, 4)
    kill_tree(first.pid, signal.SIGKILL)
    first.wait(10)
    procs.start(1)
    wait_until(all_done(conns.text, 4), 60, "the events to be done\n" + procs.logs())
    for i, rid in enumerate(rids):
        outcomes = events.target_outcomes(conns.text, "userdb", f"evt-{i}")["contacts"]
        assert [(o.outcome, o.record_id) for o in outcomes] == [("deleted", rid)]
    assert sorted(r["path"] for r in deletes(sandbox, 200)) == sorted(
        f"/crm/contacts/{rid}" for rid in rids
    )
    entries = collections.Counter(e.get("record_id") for e in audit.entries(conns.text))
    assert {rid: entries[rid] for rid in rids} == {rid: 1 for rid in rids}


def test_sigterm_with_four_jobs_running_lets_each_finish_and_starts_no_other(
    make_workers: MakeWorkers,
    settings: Settings,
    conns: Connections,
    sandbox: Sandbox,
) -> None:
    """Warm shutdown, 4 in flight and 4 queued: the 4 DELETEs answered 200, the rest left
    queued, exit 0."""
    sandbox.state.set_faults(latency_ms=1500)
    rids = accept_mapped(settings, conns.text, conns.raw, sandbox, 8)
    procs = make_workers(4)
    (proc,) = procs.start(1)
    wait_until(lambda: sandbox.state.in_flight == 4, 30, "4 DELETEs in flight\n" + procs.logs())
    kill_tree(proc.pid, signal.SIGTERM)
    assert proc.wait(20) == 0, procs.logs()
    done = [events.load(conns.text, "userdb", f"evt-{i}") for i in range(8)]
    statuses = collections.Counter(e.status for e in done if e is not None)
    assert statuses == {"done": 4, "queued": 4}
    assert sorted(r["path"] for r in deletes(sandbox)) == sorted(
        f"/crm/contacts/{rids[i]}" for i, e in enumerate(done) if e and e.status == "done"
    )
    assert all(r["status"] == 200 for r in deletes(sandbox))


def test_a_second_sigterm_cuts_every_running_job_and_the_next_worker_runs_them_again(
    make_workers: MakeWorkers,
    settings: Settings,
    conns: Connections,
    sandbox: Sandbox,
) -> None:
    """Cold shutdown with 4 in flight: each job cut as its DELETE returns (not done), exit 0;
    the next worker runs the 4 again, each record deleted by one 200."""
    sandbox.state.set_faults(latency_ms=2000)
    rids = accept_mapped(settings, conns.text, conns.raw, sandbox, 4)
    procs = make_workers(4)
    (proc,) = procs.start(1)
    wait_until(lambda: sandbox.state.in_flight == 4, 30, "4 DELETEs in flight\n" + procs.logs())
    kill_tree(proc.pid, signal.SIGTERM)
    time.sleep(1.2)  # RQ takes a second SIGTERM within a second for the same one
    kill_tree(proc.pid, signal.SIGTERM)
    assert proc.wait(10) == 0, procs.logs()
    assert "cold shut down, 4 running jobs cut" in procs.logs()
    assert not any(_done(conns, i) for i in range(4))
    sandbox.state.set_faults(latency_ms=0)
    procs.start(1)
    wait_until(all_done(conns.text, 4), 60, "the events to be done\n" + procs.logs())
    assert sorted(r["path"] for r in deletes(sandbox, 200)) == sorted(
        f"/crm/contacts/{rid}" for rid in rids
    )


def _done(conns: Connections, i: int) -> bool:
    event = events.load(conns.text, "userdb", f"evt-{i}")
    return event is not None and event.status == "done"


def test_a_job_past_its_timeout_in_a_thread_is_cut_and_run_again(
    make_workers: MakeWorkers,
    conns: Connections,
    sandbox: Sandbox,
) -> None:
    """job_timeout 1 s, 4 in flight, one DELETE held 3 s: that job cut (JobTimeoutException)
    and retried, the worker's other jobs unharmed, every event deleted."""
    short = make_settings(sandbox.url, delivery={"job_timeout_seconds": 1})  # the jobs' timeout
    sandbox.state.set_faults(script=[{"delay_ms": 3000, "only": "DELETE"}])
    accept_mapped(short, conns.text, conns.raw, sandbox, 3)
    procs = make_workers(4)
    procs.start(1)
    wait_until(all_done(conns.text, 3), 30, "the events done\n" + procs.logs())
    runs = [
        len([t for t in events.trail(conns.text, "userdb", f"evt-{i}") if t["what"] == "run"])
        for i in range(3)
    ]
    assert sorted(runs) == [1, 1, 2]
    assert "JobTimeoutException: Task exceeded its job timeout" in procs.logs()
    assert collections.Counter(r["status"] for r in deletes(sandbox)) == {200: 3, 500: 1}


def test_four_in_flight_keep_the_shared_rate_limit(
    make_workers: MakeWorkers,
    settings: Settings,
    conns: Connections,
    sandbox: Sandbox,
) -> None:
    """Sandbox window limit 20/s, bucket 20/s, 2 workers of 4 in flight: no 429, no second
    above 20 calls, and calls overlapping."""
    n = 50
    sandbox.state.set_faults(latency_ms=50, rate_limit_per_second=20, rate_limit_mode="window")
    accept_mapped(settings, conns.text, conns.raw, sandbox, n)
    zeeg = {"rate_limit_per_second": 20.0, "burst": 1}
    procs = make_workers(4, zeeg=zeeg)
    procs.start(2)
    wait_until(all_done(conns.text, n), 30, "all events done\n" + procs.logs())
    log = deletes(sandbox)
    assert collections.Counter(r["status"] for r in log) == {200: n}
    assert max(collections.Counter(int(float(r["at"])) for r in log).values()) <= 20
    assert sandbox.state.max_in_flight >= 2


def test_two_jobs_for_one_record_in_flight_at_once_delete_it_once(
    make_workers: MakeWorkers,
    settings: Settings,
    conns: Connections,
    sandbox: Sandbox,
) -> None:
    """Two events mapped to one record, run at once: one DELETE, one deletion in the audit,
    the other event's outcome already_deleted."""
    sandbox.state.set_faults(latency_ms=500)
    (rid,) = sandbox.state.seed("contacts", [{}])
    for i in range(2):
        mappings.put(conns.text, Mapping("userdb", "contacts", f"u-{i}", rid, 1.0))
        accept_event(conns, f"evt-{i}", f"u-{i}", time.time(), job_timeout=60)
    procs = make_workers(4)
    procs.start(1)
    wait_until(all_done(conns.text, 2), 30, "both events done\n" + procs.logs())
    assert [r["status"] for r in deletes(sandbox)] == [200]
    kinds = sorted(
        o.outcome
        for i in range(2)
        for o in events.target_outcomes(conns.text, "userdb", f"evt-{i}")["contacts"]
    )
    assert kinds == ["already_deleted", "deleted"]
    deleted = [e for e in audit.entries(conns.text) if e.get("outcome") == "deleted"]
    assert [e.get("record_id") for e in deleted] == [rid]


def test_sandbox_counts_the_most_calls_in_flight_at_once(sandbox: Sandbox) -> None:
    """3 DELETEs sent at once to a sandbox at 300 ms: GET /_sandbox/stats says 3."""
    sandbox.state.set_faults(latency_ms=300)
    rids = sandbox.state.seed("contacts", [{}, {}, {}])
    headers = {"Authorization": f"Bearer {sandbox.state.token}"}

    def delete(rid: str) -> int:
        url = f"{sandbox.url}/crm/contacts/{rid}"
        return requests.delete(url, headers=headers, timeout=5).status_code

    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        assert list(pool.map(delete, rids)) == [200, 200, 200]
    stats = requests.get(f"{sandbox.root}/_sandbox/stats", timeout=5).json()
    assert (stats["max_in_flight"], sandbox.state.in_flight) == (3, 0)
