"""Redis memory per in-flight and per completed event (INFO used_memory deltas, MEMORY USAGE).

    .venv/bin/python -m tests.bench.bench_memory_events [--events 2000]

In flight: n mapped events accepted (event hash, trail, dedupe key, pending index, event log
entry, RQ job hash and queue entry). Completed: the same events erased by one in-process
worker against the sandbox, then their RQ jobs and results expired (deleted here, as their
TTL would): what stays is the event hash, trail, dedupe key, event log and audit entries and
the erased marker, until retention trims them.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

import redis

from consumer.delivery import jobs
from consumer.delivery.worker import make_worker
from consumer.devtools.sandbox import Sandbox
from consumer.queue import erasure_queue
from consumer.store import keys
from consumer.store.connection import connect
from tests.bench import options
from tests.helpers import ZEEG_TOKEN, RedisServer, context, make_settings
from tests.workers import accept_mapped


def _used(r: redis.Redis) -> int:
    return int(r.info("memory")["used_memory"])


def _usage(r: redis.Redis, key: str) -> int:
    return int(r.memory_usage(key, samples=0) or 0)


def _expire_jobs(raw: redis.Redis) -> None:
    """Do what the jobs' result TTL does a day later: their hashes and results go."""
    for pattern in ("rq:job:*", "rq:results:*"):
        for key in raw.scan_iter(pattern, count=1000):
            raw.delete(key)


def run(n: int, directory: Path) -> dict[str, Any]:
    """Accept n events, measure; erase them, expire their jobs, measure again."""
    server = RedisServer(directory / "redis").start()
    sandbox = Sandbox(token=ZEEG_TOKEN).start()
    try:
        conns = connect(server.url)
        settings = make_settings(sandbox.url, zeeg={"rate_limit_per_second": 0})
        base = _used(conns.text)
        accept_mapped(settings, conns.text, conns.raw, sandbox, n)
        mapped = sum(_usage(conns.text, k) for k in conns.text.scan_iter("zc:map:*"))
        job_id = conns.text.hget(keys.event("userdb", "evt-0"), "job_id")
        parts = {
            "rq job hash": _usage(conns.text, f"rq:job:{job_id}"),
            "event hash": _usage(conns.text, keys.event("userdb", "evt-0")),
            "trail": _usage(conns.text, keys.trail("userdb", "evt-0")),
            "dedupe key": _usage(conns.text, keys.dedupe("userdb", "evt-0")),
        }
        in_flight = (_used(conns.text) - base - mapped) / n
        jobs.set_context(context(settings, conns))
        make_worker(settings, erasure_queue(conns.raw)).work(burst=True, logging_level="WARNING")
        jobs.set_context(None)
        _expire_jobs(conns.raw)
        parts["completed event hash"] = _usage(conns.text, keys.event("userdb", "evt-0"))
        parts["completed trail"] = _usage(conns.text, keys.trail("userdb", "evt-0"))
        completed = (_used(conns.text) - base) / n
    finally:
        sandbox.stop()
        server.stop()
    return {"bytes_per_in_flight_event": in_flight, "bytes_per_completed_event": completed, **parts}


def main() -> dict[str, Any]:
    """Run the memory measurement; print and return its figures."""
    args: argparse.Namespace = options(__doc__, events=2000)
    with tempfile.TemporaryDirectory() as tmp:
        found = run(args.events, Path(tmp))
    print(f"memory per event, {args.events} events (INFO used_memory deltas):")
    for name, value in found.items():
        print(f"  {name:28} {value:8.0f} bytes")
    return found


if __name__ == "__main__":
    main()
