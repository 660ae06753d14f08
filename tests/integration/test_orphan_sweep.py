"""The orphan sweep: a pending event whose RQ job is alive nowhere gets exactly one new job.

Lost jobs are made as a failover or a FLUSH leaves them (the job hash deleted, the queue
entry removed); live ones as RQ holds them. Sweeps run in this process with an injected
clock, or in a real worker's maintenance.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from rq.executions import Execution
from rq.job import Job
from rq.serializers import JSONSerializer
from rq.utils import utcformat

from consumer.delivery import liveness, orphans
from consumer.devtools.sandbox import Sandbox
from consumer.models import Mapping
from consumer.queue import erasure_queue, job_key
from consumer.settings import Settings
from consumer.store import events, keys, mappings, metrics
from consumer.store.connection import Connections, connect
from tests.helpers import RedisServer, accept_event, deletes, drain, make_settings
from tests.workers import Workers, accept_mapped, wait_until

AFTER = 1.0  # orphan_after_seconds in these tests


@pytest.fixture
def sweeping(sandbox: Sandbox, redis_server: RedisServer) -> Settings:
    env = {"REDIS_URL": redis_server.url}
    return make_settings(sandbox.url, env=env, delivery={"orphan_after_seconds": AFTER})


def _one_event(conns: Connections, sandbox: Sandbox, event_id: str = "evt-0") -> tuple[str, str]:
    """A mapped contact and its accepted event; (record id, job id)."""
    n = int(event_id.rsplit("-", 1)[1])
    (rid,) = sandbox.state.seed("contacts", [{}])
    mappings.put(conns.text, Mapping("userdb", "contacts", f"u-{n}", rid, 1.0))
    accept_event(conns, event_id, f"u-{n}", time.time())
    return rid, _job_id(conns, event_id)


def _job_id(conns: Connections, event_id: str = "evt-0") -> str:
    return events.load_hash(conns.text, "userdb", event_id)["job_id"]


def _lose(conns: Connections, job_id: str, *, keep_hash: bool = False) -> None:
    """The job as a failover or a FLUSH leaves it: in no queue, its hash gone unless kept."""
    queue = erasure_queue(conns.raw)
    assert conns.raw.lrem(queue.key, 1, job_id) == 1
    if not keep_hash:
        conns.raw.delete(job_key(job_id))


def _sweeps(conns: Connections, settings: Settings, times: int = 2) -> int:
    """times sweeps, 1.5 s apart on an injected clock, past the threshold; orphans requeued."""
    start = time.time() + AFTER + 1
    return sum(orphans.sweep(conns, settings, start + 1.5 * i) for i in range(times))


def _counted(conns: Connections, job: str) -> int:
    field = f'{metrics.ORPHANS_REQUEUED}{{job="{job}"}}'
    return int(metrics.read(conns.text).get(field) or 0)


def test_a_lost_job_is_done_after_a_workers_maintenance_without_replay(
    conns: Connections, sandbox: Sandbox, redis_server: RedisServer, tmp_path: Path
) -> None:
    """Job hash deleted and out of its queue: a real worker's sweep runs it, one DELETE."""
    settings = make_settings(sandbox.url, env={"REDIS_URL": redis_server.url})
    (rid,) = accept_mapped(settings, conns.text, conns.raw, sandbox, 1)
    old = _job_id(conns)
    _lose(conns, old)
    workers = Workers(tmp_path, redis_server.url, sandbox, delivery={"orphan_after_seconds": AFTER})
    workers.start(1)
    try:
        done = lambda: events.load(conns.text, "userdb", "evt-0").status == "done"  # type: ignore[union-attr]  # noqa: E731
        wait_until(done, 10, "the orphaned event done")
    finally:
        workers.stop()
    assert [r["path"].rsplit("/", 1)[-1] for r in deletes(sandbox)] == [rid]
    replays = [e for e in events.trail(conns.text, "userdb", "evt-0") if e["what"] == "replayed"]
    assert len(replays) == 1
    assert replays[0]["by"] == orphans.BY and replays[0]["reason"] == orphans.REASON
    assert replays[0]["previous_job_id"] == old
    assert _counted(conns, "missing") == 1
    assert f"{orphans.REASON}: userdb/evt-0, job {old} alive nowhere" in workers.logs()


def test_a_job_left_in_no_queue_is_replaced_by_exactly_one(
    conns: Connections, sandbox: Sandbox, sweeping: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """A FLUSH of the queue leaves the job hash: it is deleted, one new job runs, one DELETE."""
    rid, old = _one_event(conns, sandbox)
    _lose(conns, old, keep_hash=True)
    with caplog.at_level(logging.INFO, "consumer.delivery.orphans"):
        assert _sweeps(conns, sweeping, times=3) == 1
    queue = erasure_queue(conns.raw)
    new = _job_id(conns)
    assert new != old and queue.get_job_ids() == [new]
    assert not conns.raw.exists(job_key(old))  # superseded: it can never run beside the new one
    assert _counted(conns, "unqueued") == 1
    assert orphans.REASON in caplog.text
    drain(sweeping, conns)
    assert events.load(conns.text, "userdb", "evt-0").status == "done"  # type: ignore[union-attr]
    assert [r["path"].rsplit("/", 1)[-1] for r in deletes(sandbox)] == [rid]


def test_an_orphan_seen_once_is_not_requeued_yet(
    conns: Connections, sandbox: Sandbox, sweeping: Settings
) -> None:
    """One sighting is not enough (RQ moves some jobs in two steps): the second one acts."""
    _, old = _one_event(conns, sandbox)
    _lose(conns, old)
    now = time.time() + AFTER + 1
    assert orphans.sweep(conns, sweeping, now) == 0
    assert orphans.sweep(conns, sweeping, now + orphans.CONFIRM_SECONDS / 2) == 0
    assert _job_id(conns) == old
    assert orphans.sweep(conns, sweeping, now + orphans.CONFIRM_SECONDS) == 1


def test_a_recently_active_event_is_not_an_orphan(
    conns: Connections, sandbox: Sandbox, sweeping: Settings
) -> None:
    """Under the threshold since its last trail entry, a lost job is not looked at yet."""
    _, old = _one_event(conns, sandbox)
    _lose(conns, old)
    now = time.time()
    assert orphans.sweep(conns, sweeping, now) + orphans.sweep(conns, sweeping, now + 0.9) == 0
    assert _job_id(conns) == old


def _started(conns: Connections, job: Job) -> None:
    with conns.raw.pipeline() as pipe:
        Execution.create(job, 60, pipe)
        pipe.execute()
    conns.raw.delete(*conns.raw.keys("rq:execution:*"))  # the registry entry alone says it


def _worker_runs(conns: Connections, job: Job) -> None:
    conns.raw.sadd("rq:workers:zc-erasure", "w1")
    conns.raw.sadd("rq:worker:w1:executions", f"{job.id}:e1")


def _execution_beats(conns: Connections, job: Job) -> None:
    """A run whose start a failover lost: only RQ's heartbeat writes its execution hash."""
    conns.raw.hset(f"rq:execution:{job.id}:e1", "last_heartbeat", time.time())
    conns.raw.delete(job_key(job.id))


LIVE = {
    "queued": None,
    "intermediate": lambda c, j: c.raw.lpush("rq:queue:zc-erasure:intermediate", j.id),
    "started": _started,
    "scheduled retry": lambda c, j: erasure_queue(c.raw).scheduled_job_registry.schedule(
        j, datetime.now(UTC) + timedelta(seconds=30)
    ),
    "deferred": lambda c, j: erasure_queue(c.raw).deferred_job_registry.add(j, 60),
    "failed (an operator's to requeue)": lambda c, j: erasure_queue(c.raw).failed_job_registry.add(
        j, 60, "boom"
    ),
    "in a worker's executions": _worker_runs,
    "beating": lambda c, j: c.raw.hset(
        job_key(j.id), "last_heartbeat", utcformat(datetime.now(UTC))
    ),
    "execution hash beating, job hash gone": _execution_beats,
}


@pytest.mark.parametrize("where", LIVE)
def test_a_live_job_is_left_alone(
    conns: Connections, sandbox: Sandbox, sweeping: Settings, where: str
) -> None:
    """However RQ holds the event's job, the sweep creates no second one."""
    _, old = _one_event(conns, sandbox)
    place = LIVE[where]
    if place is not None:
        job = Job.fetch(old, connection=conns.raw, serializer=JSONSerializer)
        _lose(conns, old, keep_hash=True)
        place(conns, job)
    start = time.time() + AFTER + 1
    assert sum(orphans.sweep(conns, sweeping, start + 1.5 * i) for i in range(3)) == 0
    assert _job_id(conns) == old
    assert [e["what"] for e in events.trail(conns.text, "userdb", "evt-0")] == ["received"]


def test_a_job_run_by_a_real_worker_without_its_registry_entries_is_left_alone(
    conns: Connections, sandbox: Sandbox, redis_server: RedisServer, tmp_path: Path
) -> None:
    """A run with no trace left but its heartbeat is not replaced: one job, one DELETE."""
    env = {"REDIS_URL": redis_server.url}
    settings = make_settings(sandbox.url, env=env, delivery={"orphan_after_seconds": 0.5})
    (rid,) = accept_mapped(settings, conns.text, conns.raw, sandbox, 1)
    sandbox.state.set_faults(script=[{"only": "DELETE", "delay_ms": 2500, "answer": True}])
    job_id = _job_id(conns)
    workers = Workers(tmp_path, redis_server.url, sandbox)  # its own sweep waits 120 s
    workers.start(1)
    try:
        wait_until(lambda: not sandbox.state.faults["script"], 10, "the DELETE in flight")
        queue = erasure_queue(conns.raw)
        # Every trace but the run itself: the started registry, the worker's executions, the
        # intermediate queue (where a worker on two queues leaves a running job) and the hash.
        lost = [queue.started_job_registry.key, queue.intermediate_queue_key]
        conns.raw.delete(*lost, *conns.raw.keys("rq:worker:*:executions"))
        conns.raw.hdel(job_key(job_id), "last_heartbeat")  # RQ's next beat deletes the hash
        swept = 0
        for _ in range(4):  # idle at 0.5 s, seen at 1 s, confirmed at 2 s: the scan decides
            time.sleep(0.5)
            swept += orphans.sweep(conns, settings)
        assert swept == 0 and _job_id(conns) == job_id
        wait_until(lambda: events.pending_count(conns.text) == 0, 10, "the event done")
    finally:
        workers.stop()
    assert [r["path"].rsplit("/", 1)[-1] for r in deletes(sandbox)] == [rid]


def test_two_sweeps_at_once_enqueue_once(
    conns: Connections, sandbox: Sandbox, sweeping: Settings, redis_server: RedisServer
) -> None:
    """Two workers' sweeps at the same instant: one new job."""
    _, old = _one_event(conns, sandbox)
    _lose(conns, old)
    now = time.time() + AFTER + 1
    assert orphans.sweep(conns, sweeping, now) == 0  # the first sighting
    clients = [connect(redis_server.url) for _ in range(2)]
    results: list[int] = []
    barrier = threading.Barrier(2)

    def run(c: Connections) -> None:
        barrier.wait()
        results.append(orphans.sweep(c, sweeping, now + 2))

    threads = [threading.Thread(target=run, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    for c in clients:
        c.text.close()
        c.raw.close()
    assert sorted(results) == [0, 1]
    assert erasure_queue(conns.raw).get_job_ids() == [_job_id(conns)]
    assert orphans.sweep(conns, sweeping, now + 4) == 0  # the new job is alive
    assert len(erasure_queue(conns.raw).get_job_ids()) == 1


def test_a_sweep_waits_for_the_lock_another_holds(
    conns: Connections, sandbox: Sandbox, sweeping: Settings
) -> None:
    """While another worker's sweep holds the lock, this one does nothing."""
    _, old = _one_event(conns, sandbox)
    _lose(conns, old)
    conns.text.set(keys.ORPHAN_LOCK, "another", ex=60)
    assert _sweeps(conns, sweeping) == 0 and _job_id(conns) == old
    assert conns.text.get(keys.ORPHAN_LOCK) == "another"  # not released by this one


def test_bad_data_is_skipped_with_a_warning_and_the_rest_swept(
    conns: Connections, sandbox: Sandbox, sweeping: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """A half-present event, a key of another type and an undecodable job are skipped with a
    warning; a good orphan in the same batch is requeued."""
    _, good = _one_event(conns, sandbox, "evt-0")
    _, bad = _one_event(conns, sandbox, "evt-1")
    _, other = _one_event(conns, sandbox, "evt-2")
    _lose(conns, other)
    conns.raw.set(job_key(other), "a string, not a job hash")
    _lose(conns, good)
    _lose(conns, bad, keep_hash=True)
    conns.raw.hset(job_key(bad), "data", b"\x00 not JSON")
    conns.text.zadd(keys.PENDING, {"userdb:evt-half": 1.0})
    conns.text.hset(keys.event("userdb", "evt-half"), mapping={"status": "queued", "job_id": "j"})
    conns.text.zadd(keys.PENDING, {"userdb:evt-string": 1.0})
    conns.text.set(keys.event("userdb", "evt-string"), "not a hash")
    with caplog.at_level(logging.WARNING, "consumer.delivery.orphans"):
        assert _sweeps(conns, sweeping) == 1
    assert _job_id(conns, "evt-0") != good and _job_id(conns, "evt-1") == bad
    assert "event userdb:evt-half is incomplete, skipped" in caplog.text
    assert "event userdb:evt-string is incomplete, skipped" in caplog.text
    assert f"job {bad} of userdb/evt-1 does not decode" in caplog.text
    assert f"job {other} of userdb:evt-2 is unreadable, skipped" in caplog.text
    assert _job_id(conns, "evt-2") == other


def test_a_redis_error_skips_the_sweep_without_raising(
    conns: Connections, sweeping: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """Maintenance goes on when Redis fails under the sweep."""
    dead = connect("redis://127.0.0.1:9/0")
    with caplog.at_level(logging.WARNING, "consumer.delivery.orphans"):
        assert orphans.sweep(dead, sweeping) == 0
    dead.text.close()
    dead.raw.close()
    assert "orphan sweep skipped: ConnectionError" in caplog.text


def test_a_zero_threshold_disables_the_sweep(
    conns: Connections, sandbox: Sandbox, redis_server: RedisServer
) -> None:
    """orphan_after_seconds = 0: a lost job stays lost (the operator's replay)."""
    off = make_settings(
        sandbox.url, env={"REDIS_URL": redis_server.url}, delivery={"orphan_after_seconds": 0}
    )
    _, old = _one_event(conns, sandbox)
    _lose(conns, old)
    assert _sweeps(conns, off) == 0 and _job_id(conns) == old
    assert not conns.text.exists(keys.ORPHAN_CURSOR)


def test_the_cursor_moves_past_a_full_batch(
    conns: Connections, sandbox: Sandbox, sweeping: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Live events at the head of the pending index do not hide an orphan behind them."""
    monkeypatch.setattr(orphans, "BATCH", 2)
    for i in range(2):
        _one_event(conns, sandbox, f"evt-{i}")
    _, old = _one_event(conns, sandbox, "evt-2")
    _lose(conns, old)
    assert _sweeps(conns, sweeping, times=4) == 1
    assert _job_id(conns, "evt-2") != old


def test_past_the_head_of_a_long_queue_nothing_is_taken_for_lost(
    conns: Connections, sandbox: Sandbox, sweeping: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sweep reads QUEUE_READ jobs of the queue: a job behind them is left alone, and so
    is a lost one while the queue is longer (it is taken once the queue is shorter)."""
    monkeypatch.setattr(liveness, "QUEUE_READ", 1)
    for i in range(2):
        _one_event(conns, sandbox, f"evt-{i}")
    deep = _job_id(conns, "evt-1")
    _, lost = _one_event(conns, sandbox, "evt-2")
    _lose(conns, lost)
    assert _sweeps(conns, sweeping, times=3) == 0
    assert (_job_id(conns, "evt-1"), _job_id(conns, "evt-2")) == (deep, lost)
    monkeypatch.setattr(liveness, "QUEUE_READ", 2)
    assert _sweeps(conns, sweeping, times=2) == 1
    assert _job_id(conns, "evt-1") == deep and _job_id(conns, "evt-2") != lost


def test_a_job_marked_started_that_nothing_runs_is_replaced(
    conns: Connections, sandbox: Sandbox, sweeping: Settings
) -> None:
    """Its hash says started, no registry, worker or heartbeat does: deleted, one new job."""
    rid, old = _one_event(conns, sandbox)
    _lose(conns, old, keep_hash=True)
    conns.raw.hset(job_key(old), "status", "started")
    assert _sweeps(conns, sweeping) == 1
    assert not conns.raw.exists(job_key(old))
    assert erasure_queue(conns.raw).get_job_ids() == [_job_id(conns)]
    drain(sweeping, conns)
    assert [r["path"].rsplit("/", 1)[-1] for r in deletes(sandbox, 200)] == [rid]
