"""A short chaos run (tests/bench/chaos_delivery.py, the same code): nothing accepted is lost."""

from __future__ import annotations

from pathlib import Path

from tests.bench.chaos_delivery import RECOVERY, Plan, report, run


def test_a_short_chaos_run_loses_nothing_and_deletes_each_record_once(tmp_path: Path) -> None:
    """200 webhooks through kills of workers, horses, the web and Redis, and a faulty Zeeg."""
    # 30 s to drain: the adaptive rate is back at the configured one within about 20 s of
    # any cut (store.ratelimit), and retries wait at most 4 s (not 60: an event failed four
    # or five times by the chaos would otherwise wait 16-32 s for its last try).
    delivery = {**RECOVERY, "backoff_max_seconds": 4.0}
    plan = Plan(events=200, workers=3, seconds=20.0, seed=13, delivery=delivery, drain_seconds=30.0)
    result = run(plan, tmp_path)
    report(plan, result)
    assert result["figures"]["events acknowledged"] == "200 of 200"
    assert sum(result["figures"]["kills"].values()) >= 5
    assert result["problems"] == {
        "acknowledged events not done": 0,
        "records with two or more 200 DELETEs": 0,
        "records without exactly one audit entry": 0,
        "records still in the sandbox": 0,
    }
