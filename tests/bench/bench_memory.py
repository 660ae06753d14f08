"""Redis memory per stored event and per audit entry (MEMORY USAGE), for the README.

Run: .venv/bin/python -m tests.bench.bench_memory [N]
"""

from __future__ import annotations

import sys
import tempfile
import time
import uuid
from pathlib import Path

import redis

from consumer import intake
from consumer.models import Event, Outcome, ParsedEvent
from consumer.ops import Ops
from consumer.ops.events import Filters, search_events
from consumer.ops.status import sla_risk
from consumer.queue import Queue, erasure_queue
from consumer.store import audit, keys
from consumer.store.connection import connect
from tests.helpers import RedisServer, make_settings


def _usage(r: object, key: str) -> int:
    return int(r.memory_usage(key, samples=0) or 0)  # type: ignore[attr-defined]


def write(r: redis.Redis, queue: Queue, n: int, now: float) -> ParsedEvent:
    """Accept n events and append one audit entry each to the chain; returns the first event."""
    sample = None
    for i in range(n):
        event = ParsedEvent(
            "userdb",
            f"evt_{uuid.uuid4().hex}",
            "contact.deleted",
            f"user_{i:08d}",
            now,
            ("contacts",),
        )
        intake.accept(
            r, queue, event, now=now, dedupe_ttl_days=7, retention_days=30, job_timeout=300
        )
        outcome = Outcome("contacts", "deleted", str(uuid.uuid4()), 200)
        with r.pipeline() as pipe:  # the chain's link, as store.outcomes.record writes it
            audit.append(pipe, Event(**event.__dict__), outcome, now, audit.head(r))
            pipe.execute()
        sample = sample or event
    assert sample is not None
    return sample


def main(n: int = 10_000) -> None:
    """Write n events and n audit entries, then print bytes per entry of each structure."""
    server = RedisServer(Path(tempfile.mkdtemp())).start()
    try:
        conns = connect(server.url)
        r, queue, now = conns.text, erasure_queue(conns.raw), time.time()
        sample = write(r, queue, n, now)
        per = {
            "event log stream entry": _usage(r, keys.EVENT_LOG) / n,
            "audit stream entry": _usage(r, keys.AUDIT) / n,
            "event hash": _usage(r, keys.event(sample.source, sample.event_id)),
            "event trail (1 entry)": _usage(r, keys.trail(sample.source, sample.event_id)),
            "dedupe key": _usage(r, keys.dedupe(sample.source, sample.event_id)),
            "pending index member": _usage(r, keys.PENDING) / n,
        }
        print(f"n = {n}; MEMORY USAGE ... SAMPLES 0, redis {r.info()['redis_version']}")
        for name, size in per.items():
            print(f"{name:26} {size:8.0f} bytes")
        started = time.perf_counter()
        search_events(r, Filters(external_id="nobody"))
        scan = time.perf_counter() - started
        print(f"events search scanning all {n} log entries: {scan:.2f} s")
        later = now + 100 * 3600  # every event is past its SLA (read from the pending index)
        settings = make_settings(env={"REDIS_URL": server.url})
        started = time.perf_counter()
        risk = sla_risk(Ops(settings, conns), later)
        scan = time.perf_counter() - started
        print(f"status SLA figures over {risk['at_risk']} pending events: {scan * 1000:.1f} ms")
        print(
            f"used_memory per event (all keys, jobs incl.) {r.info()['used_memory'] / n:8.0f} bytes"
        )
    finally:
        server.stop()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
