"""Ingest side by side: wrk against ours, a floor (one LPUSH) and a naive peer (Queue.enqueue).

    .venv/bin/python -m tests.bench.bench_ingest [--seconds 5] [--rounds 2] [--connections 8]

The three apps run under the same gunicorn command line (ours, consumer/web/server.py) and
the same redis-server (appendonly yes), emptied before each run. wrk sends distinct, validly
signed userdb events (tests/bench/ingest.lua); rounds are interleaved so drift cancels. Then
ours again, each connection paced to about half of its maximum rate: the p99 there.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import redis

from consumer.sources.hmac_sha256 import sign
from consumer.web.server import APP, gunicorn_argv
from tests.bench import options, wait_for_ok
from tests.helpers import HMAC_SECRET, RedisServer, cli_env, free_port, userdb_body, write_config

APPS = {"floor": "tests.bench.peers:floor_app()", "naive": "tests.bench.peers:naive_app()"}
SCRIPT = Path(__file__).with_name("ingest.lua")
THREADS = 2


def _args() -> argparse.Namespace:
    return options(__doc__, seconds=5, rounds=2, connections=8, events=60_000)


def _events(path: Path, n: int) -> Path:
    """n distinct userdb events, each line `body TAB signature`."""
    with path.open("w") as out:
        for i in range(n):
            body = userdb_body(f"bench-{i:07d}", f"user-{i:07d}")
            out.write(f"{body.decode()}\t{sign(HMAC_SECRET, body)}\n")
    return path


def _serve(app: str, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    argv = [a if a != APP else app for a in gunicorn_argv("127.0.0.1", port, 2)]
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    wait_for_ok(f"{url}/healthz", every=0.1, failure=RuntimeError(f"{app} did not start"))
    return proc, url


def wrk(url: str, events: Path, seconds: int, connections: int, delay_ms: float = 0) -> Any:
    """One wrk run; its JSON figures (requests, duration_us, errors, p50_us, p99_us)."""
    binary = shutil.which("wrk")
    assert binary, "wrk is not installed (make bench installs it)"
    env = {**os.environ, "BENCH_EVENTS": str(events), "BENCH_DELAY_MS": f"{delay_ms:.3f}"}
    env["BENCH_THREADS"] = str(THREADS)
    argv = [binary, f"-t{THREADS}", f"-c{connections}", f"-d{seconds}s", "-s", str(SCRIPT), url]
    out = subprocess.run(argv, env=env, capture_output=True, text=True, check=True, timeout=120)
    line = next(x for x in out.stdout.splitlines() if x.startswith("BENCH "))
    figures = json.loads(line[len("BENCH ") :])
    figures["rps"] = figures["requests"] / (figures["duration_us"] / 1e6)
    return figures


def _mean(runs: list[Any]) -> dict[str, float]:
    keys = ("rps", "p50_us", "p99_us", "errors")
    return {k: sum(float(r[k]) for r in runs) / len(runs) for k in keys}


def run(args: argparse.Namespace, directory: Path) -> dict[str, Any]:
    """Every app in each round, then ours at half its rate; returns the figures."""
    server = RedisServer(directory / "redis").start()
    r = redis.Redis.from_url(server.url)
    config = write_config(directory / "consumer.toml")
    env = {**os.environ, **cli_env(config, "http://127.0.0.1:9/v2", server.url)}
    events = _events(directory / "events.tsv", args.events)
    procs = []
    try:
        urls = {}
        for name, app in {**APPS, "ours": APP}.items():
            proc, urls[name] = _serve(app, env)
            procs.append(proc)
        runs: dict[str, list[Any]] = {name: [] for name in urls}
        for _ in range(args.rounds):
            for name, url in urls.items():
                r.flushall()
                runs[name].append(wrk(url, events, args.seconds, args.connections))
        figures = {name: _mean(found) for name, found in runs.items()}
        r.flushall()
        figures["ours_half_load"] = _half(figures["ours"], urls["ours"], events, args)
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(30)
        server.stop()
    return _ratios(figures)


def _half(ours: dict[str, float], url: str, events: Path, args: argparse.Namespace) -> Any:
    """Ours with each connection paced to send at half of ours' maximum rate in total."""
    target = ours["rps"] / 2
    delay_ms = max(0.0, args.connections / target * 1000 - ours["p50_us"] / 1000)
    found = wrk(url, events, args.seconds, args.connections, delay_ms)
    return {**_mean([found]), "target_rps": target}


def _ratios(f: dict[str, Any]) -> dict[str, Any]:
    f["ours_vs_floor"] = f["ours"]["rps"] / f["floor"]["rps"]
    f["ours_vs_naive"] = f["ours"]["rps"] / f["naive"]["rps"]
    return f


def main() -> dict[str, Any]:
    """Run the ingest comparison, print and return its figures."""
    args = _args()
    with tempfile.TemporaryDirectory() as tmp:
        f = run(args, Path(tmp))
    print(f"ingest: wrk -t{THREADS} -c{args.connections} -d{args.seconds}s x {args.rounds} rounds")
    for name in ("floor", "naive", "ours", "ours_half_load"):
        x = f[name]
        print(
            f"  {name:15} {x['rps']:8.0f} req/s  p50 {x['p50_us'] / 1000:6.2f} ms"
            f"  p99 {x['p99_us'] / 1000:6.2f} ms  errors {x['errors']:.0f}"
        )
    print(f"  ours / floor {f['ours_vs_floor']:.2f}   ours / naive {f['ours_vs_naive']:.2f}")
    return f


if __name__ == "__main__":
    main()
