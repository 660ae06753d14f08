"""Real worker processes against the sandbox: shared rate limit, shared 429 hold, crash, stop."""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from consumer.devtools.sandbox import Sandbox
from consumer.settings import Settings
from consumer.store import events
from consumer.store.connection import Connections
from tests.helpers import RedisServer, deletes, free_port, make_settings
from tests.workers import Workers, accept_mapped, all_done, descendants, kill_tree, wait_until


@pytest.fixture
def workers(tmp_path: Path, redis_server: RedisServer, sandbox: Sandbox) -> Iterator[Workers]:
    procs = Workers(tmp_path, redis_server.url, sandbox)
    yield procs
    procs.stop()


def _make(tmp_path: Path, redis_server: RedisServer, sandbox: Sandbox, **zeeg: object) -> Workers:
    return Workers(tmp_path, redis_server.url, sandbox, zeeg=zeeg)


def _drain_with_four_workers(
    tmp_path: Path,
    redis_server: RedisServer,
    sandbox: Sandbox,
    conns: Connections,
    n: int,
    **zeeg: float,
) -> None:
    """Run 4 worker processes until all n events are done, then stop them."""
    procs = _make(tmp_path, redis_server, sandbox, **zeeg)
    try:
        procs.start(4)
        wait_until(all_done(conns.text, n), 60, "all events done\n" + procs.logs())
    finally:
        procs.stop()


def _alive(pid: int) -> bool:
    """Whether pid runs (a zombie waiting for its reaper does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_sigkilled_worker_mid_request_leaves_an_event_that_ends_deleted_once(
    workers: Workers, settings: Settings, conns: Connections, sandbox: Sandbox
) -> None:
    """Kill -9 of the worker (it runs the DELETE itself) and its scheduler process during the
    DELETE: RQ retries it, one successful DELETE."""
    sandbox.state.set_faults(script=[{"delay_ms": 10000, "only": "DELETE"}])
    (rid,) = accept_mapped(settings, conns.text, conns.raw, sandbox, 1)
    (first,) = workers.start(1)
    wait_until(lambda: not sandbox.state.faults["script"], 30, "the DELETE to be in flight")
    children = descendants(first.pid)
    assert children, "the worker's RQ scheduler process should be running beside it"
    kill_tree(first.pid, signal.SIGKILL)
    first.wait(10)
    wait_until(lambda: not any(_alive(pid) for pid in children), 10, "its children to die")
    workers.start(1)
    wait_until(all_done(conns.text, 1), 60, "the event to be done\n" + workers.logs())
    outcomes = events.target_outcomes(conns.text, "userdb", "evt-0")["contacts"]
    assert [(o.outcome, o.record_id) for o in outcomes] == [("deleted", rid)]
    assert [r["status"] for r in deletes(sandbox) if r["status"] == 200] == [200]


def test_sigterm_lets_the_in_flight_delete_finish_before_the_worker_exits(
    workers: Workers, settings: Settings, conns: Connections, sandbox: Sandbox
) -> None:
    """Warm shutdown: SIGTERM to worker and horse mid-request; the DELETE completes, exit 0."""
    sandbox.state.set_faults(latency_ms=1500)
    (rid,) = accept_mapped(settings, conns.text, conns.raw, sandbox, 1)
    (proc,) = workers.start(1)

    def running() -> bool:
        event = events.load(conns.text, "userdb", "evt-0")
        return event is not None and event.status == "running"

    wait_until(running, 30, "the job to start")
    assert sandbox.state.requests() == []
    kill_tree(proc.pid, signal.SIGTERM)
    assert proc.wait(20) == 0
    assert [(r["path"], r["status"]) for r in deletes(sandbox)] == [(f"/crm/contacts/{rid}", 200)]
    assert events.load(conns.text, "userdb", "evt-0").status == "done"  # type: ignore[union-attr]


def _per_second(sandbox: Sandbox) -> collections.Counter[int]:
    return collections.Counter(int(float(str(r["at"]))) for r in sandbox.state.requests())


def test_four_workers_never_exceed_rate_plus_burst_in_any_second(
    tmp_path: Path,
    redis_server: RedisServer,
    settings: Settings,
    conns: Connections,
    sandbox: Sandbox,
) -> None:
    """4 workers, bucket 20/s with burst 5: no wall-clock second at the sandbox above 25 calls."""
    n = 90
    accept_mapped(settings, conns.text, conns.raw, sandbox, n)
    _drain_with_four_workers(
        tmp_path, redis_server, sandbox, conns, n, rate_limit_per_second=20.0, burst=5
    )
    counts = _per_second(sandbox)
    assert sum(counts.values()) == n
    assert max(counts.values()) <= 25, counts


def test_no_429_when_the_sandbox_limit_equals_the_configured_rate(
    tmp_path: Path,
    redis_server: RedisServer,
    settings: Settings,
    conns: Connections,
    sandbox: Sandbox,
) -> None:
    """Sandbox limit 20/s, bucket 20/s (burst 1), 4 workers: every DELETE answers 200."""
    n = 70
    sandbox.state.set_faults(rate_limit_per_second=20)
    accept_mapped(settings, conns.text, conns.raw, sandbox, n)
    _drain_with_four_workers(
        tmp_path, redis_server, sandbox, conns, n, rate_limit_per_second=20.0, burst=1
    )
    assert collections.Counter(r["status"] for r in deletes(sandbox)) == {200: n}


def test_retry_after_holds_every_worker_until_it_expires(
    tmp_path: Path,
    redis_server: RedisServer,
    settings: Settings,
    conns: Connections,
    sandbox: Sandbox,
) -> None:
    """A 429 with Retry-After: 3: no request starts at the sandbox until the 3 s are over."""
    n = 40
    sandbox.state.set_faults(script=[{"status": 429, "retry_after": "3", "only": "DELETE"}])
    accept_mapped(settings, conns.text, conns.raw, sandbox, n)
    _drain_with_four_workers(
        tmp_path, redis_server, sandbox, conns, n, rate_limit_per_second=20.0, burst=1
    )
    log = deletes(sandbox)
    (limited,) = [float(str(r["at"])) for r in log if r["status"] == 429]
    # Calls already on their way when the 429 was answered may land just after it.
    too_early = [r for r in log if limited + 0.5 < float(str(r["at"])) < limited + 3.0]
    assert too_early == []
    assert sum(1 for r in log if r["status"] == 200) == n


def test_job_past_its_job_timeout_is_stopped_and_run_again(
    workers: Workers, conns: Connections, sandbox: Sandbox
) -> None:
    """job_timeout 1 s, a DELETE hanging 4 s: the run is cut, retried, the event ends deleted."""
    short = make_settings(sandbox.url, delivery={"job_timeout_seconds": 1})
    sandbox.state.set_faults(script=[{"delay_ms": 4000, "only": "DELETE"}])
    (rid,) = accept_mapped(short, conns.text, conns.raw, sandbox, 1)
    workers.start(1)
    wait_until(all_done(conns.text, 1), 30, "the event to be done\n" + workers.logs())
    runs = [t for t in events.trail(conns.text, "userdb", "evt-0") if t["what"] == "run"]
    outcomes = events.target_outcomes(conns.text, "userdb", "evt-0")["contacts"]
    assert (len(runs), [(o.outcome, o.record_id) for o in outcomes]) == (2, [("deleted", rid)])
    assert "JobTimeoutException" in workers.logs()


def test_worker_without_redis_exits_with_one_line(tmp_path: Path) -> None:
    """REDIS_URL pointing at nothing: exit 1 and one line on stderr, no traceback."""
    env = {
        **os.environ,
        "CONSUMER_CONFIG": str(tmp_path / "none.toml"),
        "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
        "ZEEG_API_TOKEN": "t",
    }
    (tmp_path / "none.toml").write_text("")
    argv = [sys.executable, "-m", "consumer", "worker", "--burst"]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stderr) == (
        1,
        "zeeg-consumer: Redis is unavailable (check REDIS_URL)\n",
    )
