"""How fast a SIGKILLed worker's job runs again with the default recovery timings.

That a slow job whose worker lives is never re-run (a second worker maintaining meanwhile) is
test_delivery_worker_reuse.py::test_a_job_longer_than_its_heartbeat_ttl_is_not_taken_for_abandoned.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

from consumer.devtools.sandbox import Sandbox
from consumer.queue import erasure_queue
from consumer.settings import Settings
from consumer.settings.model import DeliverySettings
from consumer.store import events
from consumer.store.connection import Connections
from tests.bench.chaos_parts import held_by
from tests.workers import Workers, accept_mapped, kill_tree, wait_until

# The shipped recovery timings: a killed job runs again within heartbeat + grace + maintenance.
DEFAULTS = DeliverySettings()
TIMINGS = {
    "maintenance_interval_seconds": DEFAULTS.maintenance_interval_seconds,
    "job_heartbeat_seconds": DEFAULTS.job_heartbeat_seconds,
    "heartbeat_grace_seconds": DEFAULTS.heartbeat_grace_seconds,
}
BOUND = sum(TIMINGS.values())


def runs(conns: Connections, event_id: str) -> list[float]:
    """When each run of the event started."""
    trail = events.trail(conns.text, "userdb", event_id)
    return [float(t["at"]) for t in trail if t["what"] == "run"]


def test_a_job_whose_worker_is_killed_mid_job_runs_again_within_the_default_bound(
    sandbox: Sandbox, conns: Connections, settings: Settings, redis_server: Any, tmp_path: Path
) -> None:
    """With the default timings the job runs again within 18 s of the SIGKILL (was about 60),
    even while RQ's registry-cleaning lock is held by a worker killed mid-clean."""
    assert BOUND <= 20
    accept_mapped(settings, conns.text, conns.raw, sandbox, 1)
    sandbox.state.set_faults(script=[{"delay_ms": 2000, "answer": True, "only": "DELETE"}])
    procs = Workers(tmp_path, redis_server.url, sandbox, delivery=TIMINGS)
    both = procs.start(2)  # one takes the job and is killed, the other brings it back
    try:
        wait_until(lambda: len(runs(conns, "evt-0")) == 1, 15, "the first run\n" + procs.logs())
        (doomed,) = [p for p in both if held_by(conns.raw, p.pid)]
        # What a worker killed mid-clean (or a Redis kill mid-clean) leaves: RQ's own lock.
        conns.raw.set(erasure_queue(conns.raw).registry_cleaning_key, 1, ex=899)
        kill_tree(doomed.pid, signal.SIGKILL)
        killed = time.time()
        doomed.wait(5)
        again = lambda: len(runs(conns, "evt-0")) >= 2  # noqa: E731
        wait_until(again, BOUND + 10, "the run after the kill\n" + procs.logs())
    finally:
        procs.stop()
    assert runs(conns, "evt-0")[1] - killed < BOUND + 2
    assert events.load(conns.text, "userdb", "evt-0").status == "done"
