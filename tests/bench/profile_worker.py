"""One in-process erasure worker under cProfile, with its Redis round trips counted by kind.

    .venv/bin/python -m tests.bench.profile_worker [--events 300] [--top 25]

A real redis-server and the sandbox (zero latency, no limit, in a thread); n mapped events
accepted, then `make_worker(...).work(burst=True)` in this process, profiled. Round trips are
counted at redis-py's connection: each send is one round trip, named by its commands (a
pipeline by its command names joined with +). The job's own and RQ's share are both in.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import tempfile
import time
from pathlib import Path
from typing import Any

from consumer.delivery import jobs
from consumer.delivery.worker import make_worker
from consumer.devtools.sandbox import Sandbox
from consumer.store.connection import connect
from tests.bench import options
from tests.helpers import ZEEG_TOKEN, RedisServer, deletes, make_settings
from tests.redis_trips import counted
from tests.workers import accept_mapped


def run(n: int, top: int, directory: Path) -> dict[str, Any]:
    """Profile one worker draining n events; print the top lines and the round trips."""
    server = RedisServer(directory / "redis").start()
    sandbox = Sandbox(token=ZEEG_TOKEN).start()
    try:
        env = {"REDIS_URL": server.url}
        settings = make_settings(sandbox.url, env=env, zeeg={"rate_limit_per_second": 0})
        return _profiled(jobs.build_context(settings), settings, sandbox, server.url, n, top)
    finally:
        sandbox.stop()
        server.stop()


def _profiled(
    ctx: Any, settings: Any, sandbox: Sandbox, url: str, n: int, top: int
) -> dict[str, Any]:
    conns = connect(url)
    accept_mapped(settings, conns.text, conns.raw, sandbox, n)
    jobs.set_context(ctx)
    worker = make_worker(ctx.settings, ctx.queue)
    profile = cProfile.Profile()
    started = time.perf_counter()
    with counted() as trips:
        profile.enable()
        worker.work(burst=True, with_scheduler=False, logging_level="WARNING")
        profile.disable()
    wall = time.perf_counter() - started
    done = len(deletes(sandbox, 200))
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(top)
    print(out.getvalue())
    total = sum(trips.values())
    print(f"{done} erased in {wall:.2f} s: {wall / max(done, 1) * 1000:.2f} ms per job")
    print(f"round trips per job: {total / max(done, 1):.1f}")
    for kind, count in trips.most_common():
        print(f"  {count / max(done, 1):5.2f}  {kind[:150]}")
    return {"per_job_ms": wall / max(done, 1) * 1000, "round_trips": total / max(done, 1)}


def main() -> dict[str, Any]:
    """Run the profile and return its two figures."""
    args: argparse.Namespace = options(__doc__, events=300, top=25)
    with tempfile.TemporaryDirectory() as tmp:
        return run(args.events, args.top, Path(tmp))


if __name__ == "__main__":
    main()
