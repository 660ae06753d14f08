"""One worker process side by side with naive peers, against a zero-latency unlimited sandbox.

    .venv/bin/python -m tests.bench.bench_workers [--events 500] [--forking-events 200]

ours: `zeeg-consumer worker --burst` (rate limit off); peers: RQ's SimpleWorker and its
forking Worker, whose job is one requests.delete (tests/bench/peers.py). Erasures per second
are counted at the sandbox (first to last DELETE); CPU per erasure is every worker process's
CPU time (the worker, its forks, RQ's scheduler: getrusage of the reaped children) minus
that of the same worker started on an empty queue, divided by the deletions.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import redis
from rq import Queue

from consumer.devtools.sandbox import Sandbox
from consumer.store.connection import connect
from tests.bench import options
from tests.bench.peer_jobs import delete
from tests.bench.peers import NAIVE_QUEUE
from tests.helpers import ZEEG_TOKEN, RedisServer, deletes, make_settings
from tests.workers import Workers, accept_mapped

PEER = """
import sys
import redis
from rq import {cls}, Queue
r = redis.Redis.from_url(sys.argv[1])
{cls}([Queue("{queue}", connection=r)], connection=r).work(burst=True, logging_level="WARNING")
"""


def _args() -> argparse.Namespace:
    return options(__doc__, events=500, forking_events=200)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _timed(argv: list[str], env: dict[str, str] | None = None) -> float:
    """Run argv to its end; the CPU seconds it and its descendants used."""
    before = _children_cpu()
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    subprocess.run(argv, env=env, check=True, timeout=600, **quiet)
    return _children_cpu() - before


def _figures(sandbox: Sandbox, cpu: float, idle_cpu: float) -> dict[str, float]:
    ok = sorted(float(r["at"]) for r in deletes(sandbox, 200))
    rate = (len(ok) - 1) / (ok[-1] - ok[0]) if len(ok) > 1 else 0.0
    per = (cpu - idle_cpu) / len(ok) * 1000 if ok else 0.0
    return {"deleted": len(ok), "erasures_per_second": rate, "cpu_ms_per_erasure": per}


def ours(directory: Path, url: str, sandbox: Sandbox, n: int) -> dict[str, float]:
    """Our worker in burst mode over n mapped events."""
    procs = Workers(directory, url, sandbox, zeeg={"rate_limit_per_second": 0})
    argv = [sys.executable, "-m", "consumer", "worker", "--sandbox", "--burst"]
    idle = _timed(argv, procs.env)
    conns = connect(url)
    accept_mapped(make_settings(sandbox.url), conns.text, conns.raw, sandbox, n)
    return _figures(sandbox, _timed(argv, procs.env), idle)


def peer(cls: str, url: str, sandbox: Sandbox, n: int) -> dict[str, float]:
    """A naive RQ worker of class cls (SimpleWorker or Worker) over n one-DELETE jobs."""
    argv = [sys.executable, "-c", PEER.format(cls=cls, queue=NAIVE_QUEUE), url]
    idle = _timed(argv)
    queue = Queue(NAIVE_QUEUE, connection=redis.Redis.from_url(url))
    for rid in sandbox.state.seed("contacts", [{} for _ in range(n)]):
        queue.enqueue(delete, f"{sandbox.url}/crm/contacts/{rid}", ZEEG_TOKEN)
    return _figures(sandbox, _timed(argv), idle)


def run(args: argparse.Namespace, directory: Path) -> dict[str, Any]:
    """Each worker on a fresh Redis and sandbox; returns figures per worker and the ratios."""
    found: dict[str, Any] = {}
    plans = {
        "ours": lambda u, s: ours(directory, u, s, args.events),
        "naive_simple": lambda u, s: peer("SimpleWorker", u, s, args.events),
        "naive_forking": lambda u, s: peer("Worker", u, s, args.forking_events),
    }
    for name, plan in plans.items():
        server = RedisServer(directory / f"redis-{name}").start()
        sandbox = Sandbox(token=ZEEG_TOKEN).start()
        try:
            found[name] = plan(server.url, sandbox)
        finally:
            sandbox.stop()
            server.stop()
    ours_rate = found["ours"]["erasures_per_second"]
    found["ours_vs_naive_simple"] = ours_rate / found["naive_simple"]["erasures_per_second"]
    found["ours_vs_naive_forking"] = ours_rate / found["naive_forking"]["erasures_per_second"]
    return found


def main() -> dict[str, Any]:
    """Run the one-worker comparison, print and return its figures."""
    args = _args()
    with tempfile.TemporaryDirectory() as tmp:
        f = run(args, Path(tmp))
    print("one worker process, zero-latency unlimited sandbox:")
    for name in ("ours", "naive_simple", "naive_forking"):
        x = f[name]
        print(
            f"  {name:14} {x['deleted']:5d} deleted  {x['erasures_per_second']:7.1f}/s"
            f"  CPU {x['cpu_ms_per_erasure']:6.2f} ms per erasure"
        )
    print(
        f"  ours / simple {f['ours_vs_naive_simple']:.2f}"
        f"   ours / forking {f['ours_vs_naive_forking']:.2f}"
    )
    return f


if __name__ == "__main__":
    main()
