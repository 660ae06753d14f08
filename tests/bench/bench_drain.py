"""Drain rate: N events, W worker processes, the sandbox with latency and a rate limit.

    .venv/bin/python -m tests.bench.bench_drain [--events 5000] [--workers 4]
        [--latency-ms 20] [--limits 50,200] [--over 4] [--burst 1] [--retry-after seconds]
        [--jobs-in-flight 0]

For each sandbox limit L (a fixed window: at most L calls per wall-clock second), two drains:
the bucket configured to L, and to over x L (Zeeg's limit unknown, the adaptive rate finds
it). `--retry-after none` makes the sandbox's 429s carry no Retry-After (Zeeg documents
none), so only our backoff and the adaptive rate space the calls. `--jobs-in-flight N` sets
[delivery] jobs_in_flight per worker (0: the default a user gets, printed). Prints deletions
per second (first to last DELETE at the sandbox) / L, the 429s Zeeg answered, and the busiest
wall-clock second.
"""

from __future__ import annotations

import argparse
import collections
import tempfile
import time
from pathlib import Path

from consumer.devtools.sandbox import Sandbox
from consumer.settings import DeliverySettings
from consumer.store.connection import connect
from tests.bench import options
from tests.helpers import ZEEG_TOKEN, RedisServer, make_settings
from tests.workers import Workers, accept_mapped, all_done, wait_until


def _args() -> argparse.Namespace:
    return options(
        __doc__,
        events=5000,
        workers=4,
        latency_ms=20,
        limits="50,200",
        over=4.0,
        burst=1,
        retry_after="seconds",
        jobs_in_flight=0,
    )


def _in_flight(args: argparse.Namespace) -> int:
    """The jobs in flight per worker: --jobs-in-flight, or the default a user gets."""
    return args.jobs_in_flight or DeliverySettings().jobs_in_flight


def run(args: argparse.Namespace, directory: Path) -> dict[str, float]:
    """One drain (args.sandbox_limit, args.rate); returns its figures."""
    redis_server = RedisServer(directory / "redis").start()
    sandbox = Sandbox(token=ZEEG_TOKEN).start()
    procs = Workers(
        directory,
        redis_server.url,
        sandbox,
        zeeg={"rate_limit_per_second": args.rate, "burst": args.burst},
        delivery={"jobs_in_flight": _in_flight(args)},
    )
    try:
        # The harsher fixed-window limiter: at most the limit in each wall-clock second.
        sandbox.state.set_faults(
            latency_ms=args.latency_ms,
            rate_limit_per_second=args.sandbox_limit,
            rate_limit_mode="window",
            retry_after=args.retry_after,
        )
        conns = connect(redis_server.url)
        settings = make_settings(sandbox.url)
        accept_mapped(settings, conns.text, conns.raw, sandbox, args.events)
        started = time.monotonic()
        procs.start(args.workers)
        wait_until(all_done(conns.text, args.events), 3600, "the drain")
        wall = time.monotonic() - started
    finally:
        procs.stop()
        sandbox.stop()
        redis_server.stop()
    return _figures(sandbox, wall)


def _figures(sandbox: Sandbox, wall: float) -> dict[str, float]:
    log = [r for r in sandbox.state.requests() if r["method"] == "DELETE"]
    ok = sorted(float(r["at"]) for r in log if r["status"] == 200)
    per_second = collections.Counter(int(float(r["at"])) for r in log)
    return {
        "deleted": len(ok),
        "deletions_per_second": (len(ok) - 1) / (ok[-1] - ok[0]) if len(ok) > 1 else 0.0,
        "http_429": sum(1 for r in log if r["status"] == 429),
        "busiest_second_calls": max(per_second.values()),
        "wall_seconds_with_startup": wall,
    }


def main() -> dict[str, dict[str, float]]:
    """Run the drains (each limit, configured to it and above it); print and return figures."""
    args = _args()
    found = {}
    print(
        f"drain: {args.events} events, {args.workers} workers, sandbox {args.latency_ms} ms "
        f"latency and a fixed-window limit L, bucket burst {args.burst}, "
        f"{_in_flight(args)} jobs in flight per worker"
        + (" (the default)" if not args.jobs_in_flight else "")
    )
    for limit in (int(x) for x in args.limits.split(",")):
        for factor in (1.0, args.over):
            args.sandbox_limit, args.rate = limit, limit * factor
            with tempfile.TemporaryDirectory() as tmp:
                f = run(args, Path(tmp))
            f["vs_limit"] = f["deletions_per_second"] / limit
            found[f"L{limit}_rate{factor:g}L"] = f
            print(
                f"  L={limit:4d} configured {factor:g}L: {f['deletions_per_second']:7.1f}/s"
                f" = {f['vs_limit']:.2f} L, 429s {f['http_429']}, busiest second"
                f" {f['busiest_second_calls']}, wall {f['wall_seconds_with_startup']:.0f} s"
            )
    return found


if __name__ == "__main__":
    main()
