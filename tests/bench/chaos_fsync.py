"""How many acknowledged events a Redis kill -9 loses: appendfsync always vs everysec.

    .venv/bin/python -m tests.bench.chaos_fsync [--trials 5] [--threads 4] [--seed 1]

For each mode, each trial starts the embedded-style Redis (AOF) on a fresh directory, has
threads accept events through the intake transaction as fast as they can (an accept that
returned is what a webhook acknowledges with 202), kills Redis with SIGKILL at a random moment,
restarts it on its AOF and counts the acknowledged events that are gone. Prints, per mode,
the events acknowledged per second and the losses per kill. A process kill leaves what Redis
wrote in the page cache, so it measures what Redis acknowledged before writing; an OS crash
or power cut also loses what was written but not fsynced (docs/resilience.md: the window).
"""

from __future__ import annotations

import random
import tempfile
import threading
import time
from pathlib import Path

import redis

from consumer import intake
from consumer.models import ParsedEvent
from consumer.queue import erasure_queue
from consumer.store import events
from consumer.store.connection import connect
from tests.bench import options
from tests.bench.chaos_parts import Redis, quiet_redis


def _feed(url: str, prefix: str, acked: list[str], stop: threading.Event) -> None:
    """Accept events until Redis stops answering; acked gets each one that was accepted."""
    conns = connect(url)
    queue = erasure_queue(conns.raw)
    n = 0
    while not stop.is_set():
        event = ParsedEvent(
            "userdb", f"{prefix}-{n}", "contact.deleted", f"u-{n}", None, ("contacts",)
        )
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
        except redis.exceptions.RedisError:
            return
        acked.append(event.event_id)
        n += 1


def trial(directory: Path, mode: str, threads: int, rng: random.Random) -> tuple[int, int, float]:
    """One kill: (acknowledged, lost, seconds fed before the kill)."""
    store = Redis(directory, "appendfsync", mode)
    acked: list[str] = []
    stop = threading.Event()
    feeders = [
        threading.Thread(target=_feed, args=(store.url, f"t{i}", acked, stop))
        for i in range(threads)
    ]
    started = time.monotonic()
    for t in feeders:
        t.start()
    time.sleep(rng.uniform(1.0, 2.0))
    store.kill()
    fed = time.monotonic() - started
    stop.set()
    for t in feeders:
        t.join(10)
    store.restart()
    try:
        conns = connect(store.url)
        lost = sum(1 for e in acked if not events.exists(conns.text, "userdb", e))
    finally:
        store.sup.shutdown()
    return len(acked), lost, fed


def main() -> None:
    """Run the trials for both modes and print a small table."""
    args = options(__doc__, trials=5, threads=4, seed=1)
    rng = random.Random(args.seed)
    rows = []
    with tempfile.TemporaryDirectory(prefix="zc-fsync-", dir="/tmp") as tmp, quiet_redis(tmp):
        for mode in ("always", "everysec"):
            for n in range(args.trials):
                rows.append((mode, *trial(Path(tmp) / f"{mode}-{n}", mode, args.threads, rng)))
    print(
        f"Redis kill -9 while {args.threads} threads accept events ({args.trials} kills per mode)"
    )
    head = f"  {'appendfsync':<12}{'acked/s':>10}{'lost per kill':>16}{'max lost':>10}"
    print(head + f"{'OS crash, up to (est.)':>24}")
    for mode in ("always", "everysec"):
        mine = [r for r in rows if r[0] == mode]
        rate = sum(r[1] for r in mine) / sum(r[3] for r in mine)
        lost = [r[2] for r in mine]
        # everysec fsyncs once a second and may postpone a write by up to 2 s more while an
        # fsync is slow: what the page cache held then is gone with the machine.
        window = 0 if mode == "always" else round(rate * 2)
        line = f"  {mode:<12}{rate:>10.0f}{sum(lost) / len(lost):>16.1f}{max(lost):>10}"
        print(line + f"{window:>24}")


if __name__ == "__main__":
    main()
