"""Failure paths of delivery: Redis lost mid-job or restarted, Zeeg down, events gone, races."""

from __future__ import annotations

import threading
from typing import Any

from consumer.delivery import handle_delivery
from consumer.sandbox import Sandbox
from consumer.settings import Settings
from consumer.store import audit, keys
from consumer.store.connection import Connections, connect
from tests.helpers import context
from tests.workers import accept_mapped


def _deletes(sandbox: Sandbox, status: int | None = None) -> list[dict[str, Any]]:
    calls = [r for r in sandbox.state.requests() if r["method"] == "DELETE"]
    return [r for r in calls if status is None or r["status"] == status]


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
    assert len(_deletes(sandbox)) == 1
    assert sorted(a["status"] for a in answers) == ["done", "retrying"]


def test_claim_key_is_this_literal_string() -> None:
    """The per-record claim key."""
    assert keys.claim("contacts", "abc") == "zc:claim:contacts:abc"
