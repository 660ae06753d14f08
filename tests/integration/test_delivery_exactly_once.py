"""Every outcome recorded once per event and target, however often or concurrently it runs."""

from __future__ import annotations

import threading
import time
from typing import Any

from consumer.delivery.policy import handle_delivery
from consumer.devtools.sandbox import Sandbox
from consumer.settings import Settings
from consumer.store import audit, keys
from consumer.store.connection import Connections, connect
from tests.helpers import accept_event, context


def _not_mapped_entries(conns: Connections) -> list[Any]:
    return [e for e in audit.entries(conns.text) if e["outcome"] == "not_mapped"]


def test_not_mapped_is_recorded_once_when_a_run_is_cut_before_its_target_is_done(
    sandbox: Sandbox, conns: Connections, settings: Settings
) -> None:
    """A re-run after a crash between the outcome and the target's completion: one entry."""
    accept_event(conns, "evt-u", "u-unknown", time.time())
    handle_delivery(context(settings, conns), "userdb", "evt-u", "job-1")
    # What a run killed after recording not_mapped, before marking the target done, leaves.
    conns.text.hdel(keys.event("userdb", "evt-u"), "t:contacts")
    conns.text.hset(keys.event("userdb", "evt-u"), "status", "running")
    again = handle_delivery(context(settings, conns), "userdb", "evt-u", "job-1")
    assert again["outcomes"] == {"contacts": ["not_mapped"]}
    assert len(_not_mapped_entries(conns)) == 1


def test_not_mapped_is_recorded_once_by_concurrent_runs_of_one_event(
    sandbox: Sandbox, conns: Connections, settings: Settings, redis_server: Any
) -> None:
    """Eight runs of one unmapped event released at once: exactly one not_mapped entry."""
    accept_event(conns, "evt-u", "u-unknown", time.time())
    start = threading.Barrier(8)
    answers: list[dict[str, Any]] = []

    def run(n: int) -> None:
        ctx = context(settings, connect(redis_server.url))
        start.wait(10)
        answers.append(handle_delivery(ctx, "userdb", "evt-u", f"job-{n}"))

    threads = [threading.Thread(target=run, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(answers) == 8
    assert len(_not_mapped_entries(conns)) == 1
    assert all(a["status"] == "done" for a in answers)
