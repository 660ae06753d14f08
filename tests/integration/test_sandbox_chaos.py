"""The sandbox's seeded random faults: 500s, slow answers that take effect, drops, 429 bursts."""

from __future__ import annotations

import time

import requests

from consumer.devtools.sandbox import Sandbox
from tests.helpers import ZEEG_TOKEN

AUTH = {"Authorization": f"Bearer {ZEEG_TOKEN}"}
CHAOS = {"seed": 7, "error_rate": 0.2, "timeout_rate": 0.1, "timeout_ms": 300}
CHAOS.update(drop_rate=0.1, burst_rate=0.05, burst_calls=3, retry_after="2", only="DELETE")


def _statuses(sandbox: Sandbox, n: int) -> list[int | str]:
    rids = sandbox.state.seed("contacts", [{} for _ in range(n)])
    seen: list[int | str] = []
    for rid in rids:
        try:
            answer = requests.delete(f"{sandbox.url}/crm/contacts/{rid}", headers=AUTH, timeout=0.2)
            seen.append(answer.status_code)
        except requests.ReadTimeout:
            seen.append("timeout")
        except requests.ConnectionError:
            seen.append("drop")
    return seen


def test_random_faults_follow_their_seed_and_are_counted(sandbox: Sandbox) -> None:
    """The same seed draws the same faults; stats count them by kind; 429s carry Retry-After."""
    sandbox.state.set_faults(random=CHAOS)
    first = _statuses(sandbox, 60)
    counts = requests.get(f"{sandbox.root}/_sandbox/stats", timeout=5).json()["faults"]
    sandbox.state.reset()
    sandbox.state.set_faults(random=CHAOS)
    assert _statuses(sandbox, 60) == first
    assert {500, 429, "timeout", "drop"} <= set(first)
    assert counts["500"] == first.count(500)
    assert counts["drop"] == first.count("drop") and counts["timeout"] == first.count("timeout")
    assert counts["429"] == first.count(429)


def test_a_timed_out_call_still_takes_effect(sandbox: Sandbox) -> None:
    """A timeout fault answers late: the client gave up, the record is gone all the same."""
    (rid,) = sandbox.state.seed("contacts", [{}])
    sandbox.state.set_faults(random={"seed": 1, "timeout_rate": 1.0, "timeout_ms": 300})
    try:
        requests.delete(f"{sandbox.url}/crm/contacts/{rid}", headers=AUTH, timeout=0.1)
        raise AssertionError("the call should have timed out")
    except requests.ReadTimeout:
        pass
    sandbox.state.set_faults(random=None)
    time.sleep(0.5)  # the slow answer's 300 ms
    gone = requests.get(f"{sandbox.url}/crm/contacts/{rid}", headers=AUTH, timeout=5)
    assert gone.status_code == 404
