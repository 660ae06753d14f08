"""One worker process serves many jobs on one Zeeg connection (no fork, no reconnect per job)."""

from __future__ import annotations

from pathlib import Path

from consumer.devtools.sandbox import Sandbox
from consumer.settings import Settings
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
    procs = Workers(tmp_path, redis_server.url, sandbox)
    try:
        procs.start(1)
        wait_until(all_done(conns.text, n), 30, "all events done\n" + procs.logs())
    finally:
        procs.stop()
    assert [r["status"] for r in deletes(sandbox)] == [200] * n
    assert sandbox.state.connections == 1
