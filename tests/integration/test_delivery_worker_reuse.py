"""The in-process worker: one Zeeg connection for many jobs, and a job's heartbeat kept alive."""

from __future__ import annotations

from pathlib import Path

from consumer.devtools.sandbox import Sandbox
from consumer.settings import Settings
from consumer.store import events
from consumer.store.connection import Connections
from tests.helpers import RedisServer, deletes
from tests.workers import Workers, accept_mapped, all_done, wait_until


def test_one_worker_deletes_twenty_records_over_one_keep_alive_connection(
    tmp_path: Path,
    redis_server: RedisServer,
    settings: Settings,
    conns: Connections,
    sandbox: Sandbox,
) -> None:
    """20 events through one `worker` process: 20 DELETEs answered 200, one TCP connection."""
    n = 20
    accept_mapped(settings, conns.text, conns.raw, sandbox, n)
    # One job at a time: with several in flight, each job thread keeps a connection of its
    # own (test_delivery_inflight.py).
    procs = Workers(tmp_path, redis_server.url, sandbox, delivery={"jobs_in_flight": 1})
    try:
        procs.start(1)
        wait_until(all_done(conns.text, n), 30, "all events done\n" + procs.logs())
    finally:
        procs.stop()
    assert [r["status"] for r in deletes(sandbox)] == [200] * n
    assert sandbox.state.connections == 1


def test_a_job_longer_than_its_heartbeat_ttl_is_not_taken_for_abandoned(
    tmp_path: Path,
    redis_server: RedisServer,
    settings: Settings,
    conns: Connections,
    sandbox: Sandbox,
) -> None:
    """A 4 s DELETE (heartbeat TTL 3 s), a second worker cleaning registries: one run, one call."""
    sandbox.state.set_faults(latency_ms=4000)
    accept_mapped(settings, conns.text, conns.raw, sandbox, 1)
    procs = Workers(tmp_path, redis_server.url, sandbox)
    try:
        procs.start(2)
        wait_until(all_done(conns.text, 1), 30, "the event done\n" + procs.logs())
    finally:
        procs.stop()
    runs = [t for t in events.trail(conns.text, "userdb", "evt-0") if t["what"] == "run"]
    assert (len(runs), [r["status"] for r in deletes(sandbox)]) == (1, [200])
