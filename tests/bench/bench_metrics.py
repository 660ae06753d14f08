"""The /metrics scrape time with 10,000 pending events, against an empty backlog and a PING.

The scrape itself (ops.scrape.render) and GET /metrics through the Flask app.

Run: .venv/bin/python -m tests.bench.bench_metrics [N]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from redis.client import Pipeline

from consumer import intake
from consumer.models import ParsedEvent
from consumer.ops import Ops, scrape
from consumer.queue import erasure_queue
from consumer.store import metrics
from consumer.store.connection import Connections, connect
from consumer.web import create_app
from tests.helpers import RedisServer, make_settings

ROUNDS = 50


def _ms(call: Callable[[], object], rounds: int = ROUNDS) -> tuple[float, float]:
    """Median and 95th percentile of call's wall time, in milliseconds."""
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1]


def _fill(conns: Connections, n: int) -> None:
    """n pending events (queued jobs) accepted through intake, each with its webhook metrics."""
    r, queue, now = conns.text, erasure_queue(conns.raw), time.time()

    def tally(pipe: Pipeline, status: str) -> None:
        metrics.incr(pipe, metrics.WEBHOOKS, source="userdb", status="202")
        metrics.observe(pipe, metrics.INTAKE_SECONDS, 0.004, source="userdb")

    for i in range(n):
        event = ParsedEvent(
            "userdb", f"evt_{uuid.uuid4().hex}", "contact.deleted", f"u-{i}", now, ("contacts",)
        )
        intake.accept(
            r,
            queue,
            event,
            now=now,
            dedupe_ttl_days=7,
            retention_days=30,
            job_timeout=300,
            tally=tally,
        )


def main(n: int = 10_000) -> None:
    """Print the scrape's median and p95 time empty and with n pending events."""
    if len(sys.argv) > 1:
        n = int(sys.argv[1])
    server = RedisServer(Path(tempfile.mkdtemp())).start()
    try:
        conns = connect(server.url)
        ops = Ops(make_settings(env={"REDIS_URL": server.url}), conns)
        floor = _ms(conns.text.ping)
        empty = _ms(lambda: scrape.render(ops))
        _fill(conns, n)
        full = _ms(lambda: scrape.render(ops))
        size = len(scrape.render(ops))
        client = create_app(ops.settings, redis=conns).test_client()
        http = _ms(lambda: client.get("/metrics"))
        print(f"PING round trip (floor)      median {floor[0]:.3f} ms  p95 {floor[1]:.3f} ms")
        print(f"scrape, nothing pending      median {empty[0]:.2f} ms  p95 {empty[1]:.2f} ms")
        print(
            f"scrape, {n:,} pending     median {full[0]:.2f} ms  p95 {full[1]:.2f} ms"
            f"  ({full[0] / floor[0]:.0f}x a PING, {full[0] / empty[0]:.2f}x empty; {size:,} bytes)"
        )
        print(f"GET /metrics (Flask), {n:,}  median {http[0]:.2f} ms  p95 {http[1]:.2f} ms")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
