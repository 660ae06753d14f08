"""Chaos: events accepted while workers are SIGKILLed and Redis is killed -9 and restarted.

    .venv/bin/python -m tests.bench.chaos_delivery [--events 500] [--workers 3] [--seconds 25]
        [--seed 1]

Redis runs as `zeeg-consumer run` embeds it (AOF, appendfsync always). A feeder accepts the
events through the intake transaction, retrying like a sender until each is acknowledged;
meanwhile, every 1-3 s, a random worker (parent and work horse) is SIGKILLed or Redis is
killed -9 and restarted on its directory. Then the workers drain. Asserts that every
acknowledged event is done, each record had exactly one successful DELETE and one audit
entry, and prints the figures. Exits non-zero on a violation (`make chaos`).
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import os
import random
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import redis

from consumer import intake
from consumer.devtools import runner
from consumer.devtools.sandbox import Sandbox
from consumer.models import Mapping, ParsedEvent
from consumer.queue import erasure_queue
from consumer.store import audit, events, mappings
from consumer.store.connection import Connections, connect
from tests.bench import options
from tests.helpers import ZEEG_TOKEN
from tests.workers import Workers, all_done, kill_tree, wait_until


def _args() -> argparse.Namespace:
    return options(__doc__, events=500, workers=3, seconds=25.0, seed=1)


class Redis:
    """The embedded-style redis-server, killable with SIGKILL and restartable on its dir."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.sup = runner.Supervisor()
        self.url = runner.start_redis(self.sup, directory)

    def kill(self) -> None:
        proc = self.sup.children[-1].proc
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

    def restart(self) -> None:
        self.sup = runner.Supervisor()
        assert runner.start_redis(self.sup, self.directory) == self.url


def _seed(conns: Connections, sandbox: Sandbox, n: int) -> list[str]:
    rids = sandbox.state.seed("contacts", [{} for _ in range(n)])
    for i, rid in enumerate(rids):
        mappings.put(conns.text, Mapping("userdb", "contacts", f"u-{i}", rid, 1.0))
    return rids


def _feed(conns: Connections, n: int, seconds: float, acked: list[str]) -> None:
    """Accept evt-0..evt-(n-1) spread over seconds, each retried until acknowledged."""
    queue = erasure_queue(conns.raw)
    for i in range(n):
        event = ParsedEvent("userdb", f"evt-{i}", "contact.deleted", f"u-{i}", None, ("contacts",))
        while True:
            try:
                intake.accept(
                    conns.text,
                    queue,
                    event,
                    now=time.time(),
                    dedupe_ttl_days=1,
                    retention_days=1,
                    job_timeout=300,
                )
                break
            except redis.exceptions.RedisError:
                time.sleep(0.2)  # a sender retrying after a 503
        acked.append(event.event_id)
        time.sleep(seconds / n)


def _chaos(procs: Workers, store: Redis, rng: random.Random, until: float) -> dict[str, int]:
    """Kill a worker or Redis every 1-3 s until the deadline; keep the worker count up."""
    counts = {"worker_kills": 0, "redis_kills": 0}
    alive = len(procs.procs)
    while time.monotonic() < until:
        time.sleep(rng.uniform(1, 3))
        running = [p for p in procs.procs if p.poll() is None]
        if rng.random() < 0.6 and running:
            kill_tree(rng.choice(running).pid, signal.SIGKILL)
            counts["worker_kills"] += 1
        else:
            store.kill()
            time.sleep(rng.uniform(0.2, 1.5))
            store.restart()
            counts["redis_kills"] += 1
        time.sleep(0.3)
        procs.start(alive - sum(1 for p in procs.procs if p.poll() is None))
    return counts


def _verify(
    conns: Connections, sandbox: Sandbox, rids: list[str], acked: list[str]
) -> dict[str, Any]:
    """Every acknowledged event done; one 200 DELETE and one audit entry per record."""
    deletes = [r for r in sandbox.state.requests() if r["method"] == "DELETE"]
    ok = collections.Counter(
        str(r["path"]).rsplit("/", 1)[-1] for r in deletes if r["status"] == 200
    )
    audited = collections.Counter(e["record_id"] for e in audit.entries(conns.text))
    not_done = [
        e
        for e in acked
        if (ev := events.load(conns.text, "userdb", e)) is None or ev.status != "done"
    ]
    runs = [
        sum(1 for t in events.trail(conns.text, "userdb", e) if t["what"] == "run") for e in acked
    ]
    problems = {
        "events not done": len(not_done),
        "records without exactly one 200 DELETE": sum(1 for rid in rids if ok[rid] != 1),
        "records without exactly one audit entry": sum(1 for rid in rids if audited[rid] != 1),
        "records still in the sandbox": len(sandbox.state.records.get("contacts", {})),
    }
    for rid in rids:
        if ok[rid] != 1 or audited[rid] != 1:
            print(f"record {rid}: {ok[rid]} x 200, {audited[rid]} audit entries", file=sys.stderr)
    figures = {
        "DELETE calls": len(deletes),
        "statuses": dict(collections.Counter(r["status"] for r in deletes)),
        "runs per event (max)": max(runs),
        "events run more than once": sum(1 for r in runs if r > 1),
    }
    return {"problems": problems, "figures": figures}


def main() -> None:
    """Run the chaos once and print its figures; exit 1 if anything accepted was lost."""
    args = _args()
    with tempfile.TemporaryDirectory(prefix="zc-chaos-", dir="/tmp") as tmp, _quiet_redis(tmp):
        result = _run(args, Path(tmp))
    print(f"events: {args.events}; workers: {args.workers}; chaos for {args.seconds:.0f} s")
    for name, value in {**result["figures"], **result["problems"]}.items():
        print(f"{name}: {value}")
    if any(result["problems"].values()):
        sys.exit(1)


def _run(args: argparse.Namespace, directory: Path) -> dict[str, Any]:
    """Feed, kill and restart, drain; returns the verdict with the figures."""
    store = Redis(directory / "r")
    sandbox = Sandbox(token=ZEEG_TOKEN).start()
    sandbox.state.set_faults(latency_ms=20)
    procs = Workers(
        directory, store.url, sandbox, zeeg={"rate_limit_per_second": 100.0, "burst": 5}
    )
    try:
        conns = connect(store.url)
        rids = _seed(conns, sandbox, args.events)
        acked: list[str] = []
        started = time.monotonic()
        feed = (conns, args.events, args.seconds * 0.8, acked)
        feeder = threading.Thread(target=_feed, args=feed)
        feeder.start()
        procs.start(args.workers)
        counts = _chaos(procs, store, random.Random(args.seed), started + args.seconds)
        feeder.join()
        wait_until(_quiet(all_done(conns.text, args.events)), 600, "the drain\n" + procs.logs())
        result = _verify(conns, sandbox, rids, acked)
        result["figures"] = {
            "events accepted": len(acked),
            **counts,
            "all done after (s)": round(time.monotonic() - started, 1),
            **result["figures"],
        }
        return result
    finally:
        procs.stop()
        sandbox.stop()
        store.sup.shutdown()


@contextlib.contextmanager
def _quiet_redis(directory: str) -> Iterator[None]:
    """Send what the redis-servers print (they inherit stdout) to a file while they run."""
    saved = os.dup(1)
    with open(os.path.join(directory, "redis.log"), "wb") as log:
        os.dup2(log.fileno(), 1)
        try:
            yield
        finally:
            os.dup2(saved, 1)
            os.close(saved)


def _quiet(check: Any) -> Any:
    """check(), counting a Redis hiccup as not yet."""

    def wrapped() -> bool:
        try:
            return bool(check())
        except redis.exceptions.RedisError:
            return False

    return wrapped


if __name__ == "__main__":
    main()
