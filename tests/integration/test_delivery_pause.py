"""Auth pause: a 401/403 stops every worker, jobs wait without failing, probe or resume restart."""

from __future__ import annotations

import time

import pytest
from rq.registry import FailedJobRegistry, FinishedJobRegistry

from consumer.devtools.sandbox import Sandbox
from consumer.queue import erasure_queue, resume
from consumer.settings import Settings
from consumer.store import events, pause
from consumer.store.connection import Connections
from tests.helpers import ZEEG_TOKEN, drain, make_settings
from tests.workers import accept_mapped


def _drain_under_operator_pause(
    sandbox: Sandbox, conns: Connections, settings: Settings, n: int, *, run_for: float
) -> None:
    """Pause delivery as an operator, accept `n` mapped events and let a worker run a while."""
    pause.pause(conns.text, "maintenance window", time.time(), by="operator")
    accept_mapped(settings, conns.text, conns.raw, sandbox, n)
    drain(settings, conns, run_for=run_for)


def _statuses(sandbox: Sandbox, method: str) -> list[int]:
    return [r["status"] for r in sandbox.state.requests() if r["method"] == method]


def test_wrong_token_pauses_fifty_events_and_the_probe_resumes_them_all(
    sandbox: Sandbox, conns: Connections
) -> None:
    """50 events, 401: none fails or spends an attempt; token fixed, the probe resumes, all go."""
    settings = make_settings(sandbox.url, zeeg={"rate_limit_per_second": 200.0, "burst": 20})
    sandbox.state.token = "rotated-elsewhere"
    rids = accept_mapped(settings, conns.text, conns.raw, sandbox, 50)
    drain(settings, conns, run_for=1.5)
    assert FailedJobRegistry(queue=erasure_queue(conns.raw)).count == 0
    assert _statuses(sandbox, "DELETE") == [401]
    assert [events.load(conns.text, "userdb", f"evt-{i}").attempts for i in range(50)] == [0] * 50  # type: ignore[union-attr]
    sandbox.state.token = ZEEG_TOKEN
    drain(settings, conns)
    assert pause.state(conns.text) is None
    assert sandbox.state.records["contacts"] == {}
    assert _statuses(sandbox, "DELETE") == [401] + [200] * len(rids)


@pytest.mark.parametrize("status", [401, 403])
def test_auth_refusal_pauses_with_the_status_and_since_when(
    status: int, sandbox: Sandbox, conns: Connections, settings: Settings
) -> None:
    """401/403: one attempt, no failure, a pause naming the status, its time, by the worker."""
    sandbox.state.set_faults(script=[{"status": status}])
    accept_mapped(settings, conns.text, conns.raw, sandbox, 1)
    before = time.time()
    drain(settings, conns, run_for=0.2)
    state = pause.state(conns.text)
    assert state is not None
    assert (state.reason.startswith(f"Zeeg answered {status}"), state.by) == (True, pause.AUTO)
    assert before <= state.since <= time.time()
    assert _statuses(sandbox, "DELETE") == [status]
    assert events.load(conns.text, "userdb", "evt-0").status == "auth_paused"  # type: ignore[union-attr]
    assert FailedJobRegistry(queue=erasure_queue(conns.raw)).count == 0


def test_runs_that_only_wait_keep_their_result_briefly(
    sandbox: Sandbox, conns: Connections, settings: Settings
) -> None:
    """A job that found delivery paused keeps its RQ result 10 minutes, not a day."""
    _drain_under_operator_pause(sandbox, conns, settings, 1, run_for=0.2)
    # The waiting job may have run more than once in the window; each run is a waiting run.
    job_ids = FinishedJobRegistry(queue=erasure_queue(conns.raw)).get_job_ids()
    assert job_ids
    assert all(0 < conns.raw.ttl(f"rq:job:{job_id}") <= 600 for job_id in job_ids)


def test_failed_probe_keeps_delivery_paused_without_deletes(
    sandbox: Sandbox, conns: Connections, settings: Settings
) -> None:
    """While the token stays wrong, only probes reach Zeeg, one per auth_probe_seconds at most."""
    sandbox.state.token = "rotated-elsewhere"
    accept_mapped(settings, conns.text, conns.raw, sandbox, 5)
    drain(settings, conns, run_for=2.0)
    assert pause.state(conns.text) is not None
    gets = _statuses(sandbox, "GET")
    assert gets and set(gets) == {401}
    # 2 s at one probe per 0.5 s, the first 0.5 s after the pause.
    assert len(gets) <= 4
    assert _statuses(sandbox, "DELETE") == [401]


def test_operator_resume_wakes_the_waiting_jobs_at_once(
    sandbox: Sandbox, conns: Connections
) -> None:
    """No probe for an hour: resume() lifts the pause and the waiting jobs run right away."""
    slow = make_settings(sandbox.url, delivery={"auth_probe_seconds": 3600.0})
    sandbox.state.token = "rotated-elsewhere"
    accept_mapped(slow, conns.text, conns.raw, sandbox, 3)
    drain(slow, conns, run_for=0.3)
    sandbox.state.token = ZEEG_TOKEN
    assert resume(erasure_queue(conns.raw)).lifted is True
    drain(slow, conns, timeout=10)
    assert sandbox.state.records["contacts"] == {}


def test_operator_pause_is_not_lifted_by_the_probe(
    sandbox: Sandbox, conns: Connections, settings: Settings
) -> None:
    """A pause set by an operator holds every job and no probe is sent."""
    _drain_under_operator_pause(sandbox, conns, settings, 2, run_for=1.0)
    assert sandbox.state.requests() == []
    assert pause.state(conns.text).by == "operator"  # type: ignore[union-attr]
    assert [events.load(conns.text, "userdb", f"evt-{i}").status for i in range(2)] == [  # type: ignore[union-attr]
        "auth_paused"
    ] * 2


def test_resume_only_by_leaves_another_pause_alone(conns: Connections) -> None:
    """resume(only_by=AUTO), as the probe calls it, does not lift an operator's pause."""
    pause.pause(conns.text, "maintenance window", 1.0, by="operator")
    assert resume(erasure_queue(conns.raw), only_by=pause.AUTO).lifted is False
    assert pause.state(conns.text) is not None
    assert resume(erasure_queue(conns.raw)).lifted is True
    assert pause.state(conns.text) is None


def test_a_second_pause_keeps_the_first_reason_time_and_author(conns: Connections) -> None:
    """pause() is first-wins as a whole: a later caller changes neither reason, since nor by."""
    assert pause.pause(conns.text, "Zeeg answered 401", 10.0) is True
    assert pause.pause(conns.text, "maintenance", 20.0, by="operator") is False
    assert pause.state(conns.text) == pause.PauseState("Zeeg answered 401", 10.0, pause.AUTO)
