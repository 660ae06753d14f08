"""Redis memory per in-flight and per completed event (INFO used_memory deltas, MEMORY USAGE).

    .venv/bin/python -m tests.bench.bench_memory_events [--events 2000]

In flight: n mapped events accepted (event hash, trail, dedupe key, pending index, event log
entry, lookup index, RQ job hash and queue entry). Completed: the same events erased by one
in-process worker against the sandbox, then their RQ jobs and results expired (deleted here,
as their TTL would): what stays is the event hash, trail, dedupe key, event log and audit
entries with their index members, the erased marker and the chart, until retention trims
them. Measured twice in one run: under the Redis the project starts (runner.REDIS_MEMORY_ARGS,
the top-level figures) and under redis-server's defaults (`redis_defaults`).

Each state also has its breakdown by key pattern (`by_pattern`: ids replaced by `*`): the
keys and MEMORY USAGE per event; for the completed state also the `INFO used_memory` freed
per event when that pattern's keys are deleted, one pattern after the other at the end (a
key's expiry entry and its share of the dictionaries are counted there, not in MEMORY USAGE;
a dictionary that shrinks shows in the pattern whose deletion shrank it), and what is left
per event once every key is deleted (Redis's own memory sized for the peak of the run).
"""

from __future__ import annotations

import argparse
import collections
import tempfile
import time
from pathlib import Path
from typing import Any

import redis

from consumer.delivery import jobs
from consumer.delivery.worker import make_worker
from consumer.devtools import runner
from consumer.devtools.sandbox import Sandbox
from consumer.queue import erasure_queue
from consumer.store import keys
from consumer.store.connection import connect
from tests.bench import options
from tests.helpers import ZEEG_TOKEN, RedisServer, context, make_settings
from tests.workers import accept_mapped


def _used(r: redis.Redis) -> int:
    """used_memory without Redis 7's per-command latency histograms (`latency-tracking`, on
    by default): about 12 kB per command name used, allocated once, not per event (about
    190 B per event of 2,000 in flight). CONFIG RESETSTAT frees them (this server is ours)."""
    r.config_resetstat()
    return int(r.info("memory")["used_memory"])


def _settled(r: redis.Redis, wait: float = 5.0) -> int:
    """used_memory once Redis has shrunk its dictionaries (it does so in its cron): the
    lowest seen while it still falls, at most wait seconds."""
    low, deadline = _used(r), time.monotonic() + wait
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = _used(r)
        if now >= low:
            return low
        low = now
    return low


def _usage(r: redis.Redis, key: str, per: int = 1) -> tuple[int, str]:
    """MEMORY USAGE of key (divided among per items) and its OBJECT ENCODING."""
    size = int(r.memory_usage(key, samples=0) or 0)
    return round(size / per), str(r.object("encoding", key) or "-")


def _expire_jobs(raw: redis.Redis) -> None:
    """Do what the jobs' result TTL does an hour later: their hashes, results and registry
    entries go (RQ's hourly registry cleanup drops the expired ones)."""
    for pattern in ("rq:job:*", "rq:results:*", "rq:finished:*"):
        for key in raw.scan_iter(pattern, count=1000):
            raw.delete(key)


# Key families whose keys end in ids (the rest are one key each): their pattern is this + "*".
_FAMILIES = (
    "zc:idx:au:ext:",
    "zc:idx:au:rec:",
    "zc:idx:ev:",
    "zc:event:",
    "zc:trail:",
    "zc:dedupe:",
    "zc:map:",
    "zc:erased:",
    "zc:tomb:",
    "zc:claim:",
    "zc:chart:",
    "rq:job:",
    "rq:results:",
    "rq:worker:",
)


def pattern(key: str) -> str:
    """The pattern of a key: its family's prefix and `*`, or the key itself."""
    return next((f"{f}*" for f in _FAMILIES if key.startswith(f)), key)


def by_pattern(r: redis.Redis, n: int, *, free: bool = True) -> dict[str, dict[str, float]]:
    """Per key pattern (largest first): keys, MEMORY USAGE per event and, if free, the
    used_memory freed per event by deleting its keys (destructive: measure last)."""
    found: dict[str, list[str]] = collections.defaultdict(list)
    for key in r.scan_iter(count=1000):
        found[pattern(key)].append(key)
    usage = {p: sum(_usage(r, k)[0] for k in names) for p, names in found.items()}
    rows = {}
    for p in sorted(found, key=lambda p: -usage[p]):
        rows[p] = {"keys": len(found[p]), "memory_usage": round(usage[p] / n, 1)}
    for p in rows if free else ():
        before = _used(r)
        for i in range(0, len(found[p]), 500):
            r.delete(*found[p][i : i + 500])  # DEL frees at once (UNLINK may free later)
        rows[p]["freed"] = round((before - _used(r)) / n, 1)
    return rows


def _in_flight_parts(r: redis.Redis, n: int) -> dict[str, tuple[int, str]]:
    """Bytes (and encoding) of each key an in-flight evt-0 holds; shared keys per event."""
    return {
        "rq job hash": _usage(r, f"rq:job:{r.hget(keys.event('userdb', 'evt-0'), 'job_id')}"),
        "rq queue entry": _usage(r, f"rq:queue:{keys.QUEUE}", n),
        "event hash": _usage(r, keys.event("userdb", "evt-0")),
        "trail": _usage(r, keys.trail("userdb", "evt-0")),
        "dedupe key": _usage(r, keys.dedupe("userdb", "evt-0")),
        "pending index member": _usage(r, keys.PENDING, n),
        "event log entry": _usage(r, keys.EVENT_LOG, n),
        "lookup index zset": _usage(r, keys.event_index("userdb", "u-0")),
    }


def _completed_parts(r: redis.Redis, n: int, rid: str) -> dict[str, tuple[int, str]]:
    """Bytes (and encoding) of each key a completed evt-0 keeps once its job expired."""
    charts = list(r.scan_iter(keys.chart_minute(0).replace(":0", ":*")))
    return {
        "event hash": _usage(r, keys.event("userdb", "evt-0")),
        "trail": _usage(r, keys.trail("userdb", "evt-0")),
        "dedupe key": _usage(r, keys.dedupe("userdb", "evt-0")),
        "event log entry": _usage(r, keys.EVENT_LOG, n),
        "lookup index zset": _usage(r, keys.event_index("userdb", "u-0")),
        "audit entry": _usage(r, keys.AUDIT, n),
        "audit index: external id": _usage(r, keys.audit_by_external("userdb", "u-0")),
        "audit index: record": _usage(r, keys.audit_by_record("contacts", rid)),
        "erased marker": _usage(r, keys.erased("contacts", rid)),
        "chart": (round(sum(_usage(r, k)[0] for k in charts) / n), "listpack"),
    }


def run(n: int, directory: Path, *redis_args: str) -> dict[str, Any]:
    """Accept n events, measure; erase them, expire their jobs, measure again."""
    server = RedisServer(directory, *redis_args).start()
    sandbox = Sandbox(token=ZEEG_TOKEN).start()
    try:
        conns = connect(server.url)
        settings = make_settings(sandbox.url, zeeg={"rate_limit_per_second": 0})
        base = _used(conns.text)
        # The default windows (7 days of dedupe, 30 of retention): the event hash dedupes.
        days = {"dedupe_ttl_days": settings.intake.dedupe_ttl_days}
        days["retention_days"] = settings.intake.event_log_retention_days
        rids = accept_mapped(settings, conns.text, conns.raw, sandbox, n, **days)
        mapped = sum(_usage(conns.text, k)[0] for k in conns.text.scan_iter("zc:map:*"))
        in_flight = (_used(conns.text) - base - mapped) / n
        parts = _in_flight_parts(conns.text, n)
        in_flight_patterns = by_pattern(conns.text, n, free=False)
        jobs.set_context(context(settings, conns))
        make_worker(settings, erasure_queue(conns.raw)).work(burst=True, logging_level="WARNING")
        jobs.set_context(None)
        _expire_jobs(conns.raw)
        completed = (_used(conns.text) - base) / n  # the mappings went with the records
        done = _completed_parts(conns.text, n, rids[0])
        done_patterns = by_pattern(conns.text, n)
        left = (_settled(conns.text) - base) / n  # in no key: Redis's own, sized for the peak
    finally:
        sandbox.stop()
        server.stop()
    return {
        "bytes_per_in_flight_event": in_flight,
        "bytes_per_completed_event": completed,
        "in_flight": parts,
        "completed": done,
        "by_pattern": {"in_flight": in_flight_patterns, "completed": done_patterns},
        "bytes_per_event_left_without_keys": left,
    }


def main() -> dict[str, Any]:
    """Measure under the Redis the project starts, then under redis-server's defaults."""
    args: argparse.Namespace = options(__doc__, events=2000)
    with tempfile.TemporaryDirectory() as tmp:
        found = run(args.events, Path(tmp) / "project", *runner.REDIS_MEMORY_ARGS)
        found["redis_defaults"] = run(args.events, Path(tmp) / "defaults")
    for name, figures in (("project's redis", found), ("redis defaults", found["redis_defaults"])):
        _print(f"{name} {' '.join(runner.REDIS_MEMORY_ARGS) if figures is found else ''}", figures)
    return found


def _print(name: str, figures: dict[str, Any]) -> None:
    print(f"{name}: INFO used_memory per event (mappings excluded), MEMORY USAGE per key:")
    for state in ("in_flight", "completed"):
        print(f"  {state:28} {figures[f'bytes_per_{state}_event']:8.0f} bytes per event")
        for part, (size, encoding) in figures[state].items():
            print(f"    {part:26} {size:8} bytes  {encoding}")
        print(f"  {state} by key pattern: keys, MEMORY USAGE and used_memory freed per event")
        for name, row in figures["by_pattern"][state].items():
            freed = f"{row['freed']:8.1f}" if "freed" in row else ""
            print(f"    {name:34} {row['keys']:6} {row['memory_usage']:8.1f} {freed}")
    left = figures["bytes_per_event_left_without_keys"]
    print(f"  used_memory per event left once every key is deleted: {left:.0f} bytes")


if __name__ == "__main__":
    main()
