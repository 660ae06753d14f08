"""CPU per webhook under wrk: each app's gunicorn workers and its Redis, read from /proc.

    .venv/bin/python -m tests.bench.cpu_ingest [--seconds 5] [--rounds 2] [--connections 8]

The apps, events and wrk runs are bench_ingest's; instead of the request rates, which on a
shared machine follow the other processes' load, it prints the CPU time the app's workers
and the redis-server spent per request (utime + stime from /proc, Linux only), and the
floor's and the naive peer's totals over ours: the rate ratios these apps would have if
CPU bound on the same cores (wrk's own CPU aside).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
from pathlib import Path

import redis

from consumer.web.server import APP
from tests.bench import options
from tests.bench.bench_ingest import APPS, _events, _serve, wrk
from tests.helpers import RedisServer, cli_env, write_config

TICK = os.sysconf("SC_CLK_TCK")


def cpu(pid: int) -> float:
    """CPU seconds (user + system) process pid has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def children(pid: int) -> list[int]:
    """The child processes of pid (a gunicorn master's workers)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def _measure(
    r: redis.Redis,
    redis_pid: int,
    served: dict[str, tuple[subprocess.Popen[bytes], str]],
    events: Path,
    args: argparse.Namespace,
) -> dict[str, list[float]]:
    """Workers' and Redis's CPU seconds and the requests, per app, over the interleaved runs."""
    spent = {name: [0.0, 0.0, 0.0] for name in served}
    for _ in range(args.rounds):
        for name, (proc, url) in served.items():
            r.flushall()
            workers = children(proc.pid)
            before, redis_before = sum(map(cpu, workers)), cpu(redis_pid)
            found = wrk(url, events, args.seconds, args.connections)
            spent[name][0] += sum(map(cpu, workers)) - before
            spent[name][1] += cpu(redis_pid) - redis_before
            spent[name][2] += found["requests"]
    return spent


def main() -> None:
    """Print each app's CPU per request under wrk, and the ratios of the totals."""
    args = options(__doc__, seconds=5, rounds=2, connections=8)
    with tempfile.TemporaryDirectory() as tmp:
        server = RedisServer(Path(tmp) / "redis").start()
        assert server.proc is not None
        config = write_config(Path(tmp) / "consumer.toml")
        env = {**os.environ, **cli_env(config, "http://127.0.0.1:9/v2", server.url)}
        served = {}
        try:
            for name, app in {**APPS, "ours": APP}.items():
                served[name] = _serve(app, env)
            events = _events(Path(tmp) / "events.tsv", 60_000)
            r = redis.Redis.from_url(server.url)
            spent = _measure(r, server.proc.pid, served, events, args)
        finally:
            for proc, _url in served.values():
                proc.terminate()
                proc.wait(30)
            server.stop()
    for name, (workers, in_redis, requests) in spent.items():
        per = 1e6 / requests
        print(
            f"  {name:6} workers {workers * per:5.0f} us  redis {in_redis * per:4.0f} us a request"
        )
    total = {name: (w + rd) / q for name, (w, rd, q) in spent.items()}
    print(
        f"  CPU floor / ours {total['floor'] / total['ours']:.2f}"
        f"   naive / ours {total['naive'] / total['ours']:.2f}"
    )


if __name__ == "__main__":
    main()
