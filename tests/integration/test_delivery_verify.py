"""Verified deletions (zeeg.verify_deletions) through a real worker process and the sandbox."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from consumer import audit_chain
from consumer.devtools.sandbox import Sandbox
from consumer.models import Event, Outcome
from consumer.ops import Ops, audit
from consumer.ops.events import show_event
from consumer.ops.failed import list_failed
from consumer.settings import Settings
from consumer.store import events, outcomes
from consumer.store.connection import Connections
from tests.helpers import RedisServer
from tests.workers import Workers, accept_mapped, all_done, wait_until


def _run(tmp_path: Path, redis_server: RedisServer, sandbox: Sandbox, **zeeg: Any) -> Workers:
    """One worker process with verify_deletions on (and the other zeeg keys given)."""
    workers = Workers(tmp_path, redis_server.url, sandbox, zeeg={"verify_deletions": True, **zeeg})
    workers.start(1)
    return workers


@pytest.fixture
def verifying(tmp_path: Path, redis_server: RedisServer, sandbox: Sandbox) -> Iterator[Workers]:
    workers = _run(tmp_path, redis_server, sandbox)
    yield workers
    workers.stop()


def _calls(sandbox: Sandbox, rid: str) -> list[tuple[str, int]]:
    """(method, status) of every CRM call on one record, oldest first."""
    path = f"/crm/contacts/{rid}"
    return [(c["method"], c["status"]) for c in sandbox.state.requests() if c["path"] == path]


def _audit_rows(conns: Connections) -> list[dict[str, Any]]:
    return list(audit.rows(conns.text, None, None))


def test_a_deletion_a_get_confirms_is_audited_verified_true(
    verifying: Workers, settings: Settings, conns: Connections, sandbox: Sandbox
) -> None:
    """DELETE 200, then a GET of the record answers 404: the outcome and audit say verified."""
    (rid,) = accept_mapped(settings, conns.text, conns.raw, sandbox, 1)
    wait_until(all_done(conns.text, 1), 30, "the event to be done\n" + verifying.logs())
    assert _calls(sandbox, rid) == [("DELETE", 200), ("GET", 404)]
    (outcome,) = events.target_outcomes(conns.text, "userdb", "evt-0")["contacts"]
    assert (outcome.outcome, outcome.verified) == ("deleted", True)
    (row,) = _audit_rows(conns)
    assert (row["outcome"], row["verified"]) == ("deleted", True)
    assert '"verified":"true"' in row["canonical"]
    assert audit_chain.verify(_audit_rows(conns), audit.render).ok
    trail = show_event(conns.text, "userdb", "evt-0")["trail"]
    assert [e.get("method") for e in trail if e["what"] == "attempt"] == [None, "GET"]


def test_a_record_still_found_is_deleted_once_more_then_the_event_fails_visibly(
    verifying: Workers, settings: Settings, conns: Connections, sandbox: Sandbox
) -> None:
    """Zeeg answers 200 to both DELETEs and keeps the record: one re-delete, then failed."""
    sandbox.state.set_faults(phantom_deletes=2)
    (rid,) = accept_mapped(settings, conns.text, conns.raw, sandbox, 1)
    failed = lambda: (e := events.load(conns.text, "userdb", "evt-0")) and e.status == "failed"  # noqa: E731
    wait_until(failed, 30, "the event to fail\n" + verifying.logs())
    assert _calls(sandbox, rid) == [("DELETE", 200), ("GET", 200), ("DELETE", 200), ("GET", 200)]
    assert rid in sandbox.state.records["contacts"]
    ops = Ops(settings, conns)
    # The event is marked failed just before RQ moves its job to the failed registry.
    wait_until(lambda: bool(list_failed(ops)), 10, "the job in the failed registry")
    (row,) = list_failed(ops)
    assert row["event_id"] == "evt-0" and "still found after DELETE" in row["reason"]
    shown = show_event(conns.text, "userdb", "evt-0")
    flagged = [e for e in shown["trail"] if e["what"] == "outcome"]
    assert [(e["outcome"], e["verified"]) for e in flagged] == [("failed", False)]
    (entry,) = _audit_rows(conns)
    assert (entry["outcome"], entry["record_id"], entry["verified"]) == ("failed", rid, False)
    assert "contacts" not in events.target_outcomes(conns.text, "userdb", "evt-0")
    # The failed event counts once (not once more for its flagged record); the GETs count
    # apart from the DELETEs.
    counters = conns.text.hgetall("zc:metrics")
    assert counters['zeeg_consumer_outcomes_total{outcome="failed"}'] == "1"
    assert counters['zeeg_consumer_zeeg_requests_total{status="200"}'] == "2"
    assert counters['zeeg_consumer_zeeg_verify_requests_total{status="200"}'] == "2"


def test_the_verifying_gets_take_tokens_from_the_shared_rate_limit(
    tmp_path: Path,
    redis_server: RedisServer,
    settings: Settings,
    conns: Connections,
    sandbox: Sandbox,
) -> None:
    """At 2 calls/s, burst 1, each GET waits its turn after the DELETE before it (and a
    record found once is re-deleted and then verified)."""
    sandbox.state.set_faults(phantom_deletes=1)
    workers = _run(tmp_path, redis_server, sandbox, rate_limit_per_second=2.0, burst=1)
    try:
        (rid,) = accept_mapped(settings, conns.text, conns.raw, sandbox, 1)
        wait_until(all_done(conns.text, 1), 30, "the event to be done\n" + workers.logs())
    finally:
        workers.stop()
    calls = [c for c in sandbox.state.requests() if c["path"] == f"/crm/contacts/{rid}"]
    assert [(c["method"], c["status"]) for c in calls] == [
        ("DELETE", 200),
        ("GET", 200),
        ("DELETE", 200),
        ("GET", 404),
    ]
    gaps = [b["at"] - a["at"] for a, b in itertools.pairwise(calls)]
    # 0.5 s a token (less the jitter of a loaded machine); an ungated GET follows in ms
    assert min(gaps) > 0.3, gaps
    (outcome,) = events.target_outcomes(conns.text, "userdb", "evt-0")["contacts"]
    assert (outcome.outcome, outcome.verified) == ("deleted", True)


def test_entries_written_before_verified_existed_still_verify_beside_new_ones(
    conns: Connections,
) -> None:
    """An outcome without verified keeps its old stored form; the chain holds across both."""
    event = Event("userdb", "e-1", "contact.deleted", "u-1", None, ("contacts",), received_at=1.0)
    plain = Outcome("contacts", "deleted", "0b1c2d3e-0000-4000-8000-000000000001", 200)
    assert Outcome.from_json('{"object":"contacts","outcome":"deleted"}').verified is None
    assert "verified" not in plain.to_json()
    checked = Outcome(
        "contacts", "deleted", "0b1c2d3e-0000-4000-8000-000000000002", 200, verified=True
    )
    for i, outcome in enumerate((plain, checked)):
        outcomes.record(conns.text, event, outcome, 10.0 + i, per_record=True)
    rows = _audit_rows(conns)
    assert '"verified"' not in rows[0]["canonical"] and rows[1]["verified"] is True
    assert audit_chain.verify(rows, audit.render).ok
