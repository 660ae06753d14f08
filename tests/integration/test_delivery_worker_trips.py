"""The erasure worker's per-job cost in Redis round trips, and the RQ state it leaves."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
import redis
from rq import Queue, SimpleWorker
from rq.serializers import JSONSerializer

from consumer.delivery import jobs, worker
from consumer.delivery.worker import ErasureWorker, make_worker
from consumer.devtools.sandbox import Sandbox
from consumer.settings import Settings
from consumer.store.connection import Connections
from tests.helpers import context, deletes
from tests.redis_trips import counted
from tests.workers import accept_mapped

# Measured: 37 before this worker pipelined RQ's bookkeeping and the erasure's writes.
MAX_TRIPS_PER_JOB = 25


def _burst_trips(settings: Settings, conns: Connections, sandbox: Sandbox, n: int) -> int:
    accept_mapped(settings, conns.text, conns.raw, sandbox, n)
    # One job at a time: several in flight open a Redis connection per job thread (5 round
    # trips each, once per thread, not per job), which a burst of 3 jobs would count.
    one_by_one = dataclasses.replace(settings.delivery, jobs_in_flight=1)
    settings = dataclasses.replace(settings, delivery=one_by_one)
    erasures = make_worker(settings, jobs.build_context(settings).queue)
    with counted() as trips:
        erasures.work(burst=True, logging_level="WARNING")
    return sum(trips.values())


def test_one_erasure_job_costs_at_most_25_redis_round_trips(
    settings: Settings, conns: Connections, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The round trips of a burst over 3 events less those over 1, per job: at most 25."""
    # Heartbeats are coalesced within a second: a wider window keeps a slow machine's count.
    monkeypatch.setattr(worker, "HEARTBEAT_COALESCE_SECONDS", 60.0)
    jobs.set_context(context(settings, conns))
    try:
        one = _burst_trips(settings, conns, sandbox, 1)
        conns.text.flushall()
        three = _burst_trips(settings, conns, sandbox, 3)
    finally:
        jobs.set_context(None)
    assert len(deletes(sandbox, 200)) == 4
    assert (three - one) / 2 <= MAX_TRIPS_PER_JOB


def _state(r: redis.Redis, job_id: str, worker: str) -> dict[str, Any]:
    """What a finished job left: every key naming the job or worker or a registry, as shapes."""
    found: dict[str, Any] = {}
    for key in sorted(k.decode() for k in r.keys("rq:*")):
        kind = r.type(key).decode()
        name = key.replace(job_id, "<job>").replace(worker, "<worker>")
        if kind == "hash":
            fields = {k.decode(): v.decode(errors="replace") for k, v in r.hgetall(key).items()}
            shown = {
                f: (v if f in ("status", "state", "successful_job_count") else "*")
                for f, v in fields.items()
            }
            found[name] = shown
        elif kind == "zset":
            found[name] = sorted(
                m.decode().split(":")[0].replace(job_id, "<job>") for m in r.zrange(key, 0, -1)
            )
        elif kind == "stream":
            found[name] = [sorted(f.decode() for f in e[1]) for e in r.xrange(key)]
        else:
            found[name] = kind
        found[name + " ttl"] = r.ttl(key) > 0
    return found


def _finish_one(
    conns: Connections, worker_class: type[SimpleWorker], arg: str = "abc", in_flight: int = 1
) -> dict[str, Any]:
    conns.raw.flushall()
    queue = Queue("q", connection=conns.raw, serializer=JSONSerializer)
    queue.enqueue("builtins.int", arg, job_id="job-1", result_ttl=600)
    worker = worker_class([queue], connection=conns.raw, serializer=JSONSerializer, name="w-1")
    if isinstance(worker, ErasureWorker):
        worker.run_in_flight(in_flight)
    worker.work(burst=True, logging_level="WARNING")
    return _state(conns.raw, "job-1", "w-1")


@pytest.mark.parametrize(("arg", "status"), [("12", "finished"), ("not a number", "failed")])
def test_a_job_leaves_the_state_rqs_own_simple_worker_leaves(
    conns: Connections, arg: str, status: str
) -> None:
    """Job hash, registries, result stream, worker hash: the same keys, fields and TTLs."""
    ours = _finish_one(conns, ErasureWorker, arg)
    assert ours["rq:job:<job>"]["status"] == status
    assert ours == _finish_one(conns, SimpleWorker, arg)


@pytest.mark.parametrize(("arg", "status"), [("12", "finished"), ("not a number", "failed")])
def test_a_job_run_in_a_thread_leaves_the_state_rqs_own_simple_worker_leaves(
    conns: Connections, arg: str, status: str
) -> None:
    """With 4 jobs in flight (the job in a thread of its own): the same keys, fields, TTLs."""
    ours = _finish_one(conns, ErasureWorker, arg, in_flight=4)
    assert ours["rq:job:<job>"]["status"] == status
    assert ours == _finish_one(conns, SimpleWorker, arg)
