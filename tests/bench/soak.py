"""Soak: steady webhooks above Zeeg's limit, a backlog that grows and drains, memory sampled.

    .venv/bin/python -m tests.bench.soak [--seconds 600] [--rate 6] [--limit 4] [--workers 2]

Redis (AOF, appendfsync always), a gunicorn `zeeg-consumer web`, RQ workers and the sandbox
on loopback. Senders POST signed webhooks at `rate` per second for the first 30%; the
sandbox answers 429 (Retry-After) past `limit` calls per second, so a backlog grows, then
drains once the webhooks stop. Retention is short (event log, dedupe keys, tombstones and
audit: RETENTION_DAYS, longer than the longest wait in the backlog), so events expire within
the run; a retention trim runs at the end,
as the hourly housekeeping would. Every 10 s it samples the backlog, Redis used_memory and
connected clients, and each process's RSS and open file descriptors, and prints the table.
Asserts that Redis memory ends within 10% of its start once RQ's finished jobs and
results (kept a day by design) expire (measured, then deleted as their TTL would), and that
neither descriptors nor connections grew past their level at 20 s (every process connected
by then).
"""

from __future__ import annotations

import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import redis

from consumer.devtools.sandbox import Sandbox
from consumer.models import Mapping
from consumer.store import events, mappings, retention
from consumer.store.connection import connect
from tests.bench import options
from tests.bench.chaos_parts import Redis, Senders, Web, quiet_redis, web_env
from tests.helpers import ZEEG_TOKEN, default_sources, make_settings
from tests.workers import Workers, descendants

RETENTION_DAYS = 0.0035  # 5 minutes: longer than the backlog's longest wait (429 retries)
RQ_KEPT = ("rq:job", "rq:results", "rq:finished")  # RQ keeps a finished job a day
SHORT = {"dedupe_ttl_days": RETENTION_DAYS, "event_log_retention_days": RETENTION_DAYS}
FEED = 0.3  # webhooks arrive for the first 30% of the run
KEPT = {"audit_retention_days": RETENTION_DAYS, "tombstone_days": RETENTION_DAYS}


def _proc(pid: int) -> tuple[float, int]:
    """(RSS in MB, open descriptors) of one process; zeros if it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        fds = len(list(Path(f"/proc/{pid}/fd").iterdir()))
    except (FileNotFoundError, ProcessLookupError):
        return 0.0, 0
    rss = next(
        (int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS")), 0
    )
    return rss / 1024, fds


def _tree(pid: int) -> tuple[float, int]:
    """RSS and descriptors of a process and its children (a worker's horse comes and goes)."""
    parts = [_proc(p) for p in [pid, *descendants(pid)]]
    return sum(r for r, _ in parts), sum(f for _, f in parts)


def by_prefix(r: redis.Redis) -> dict[str, int]:
    """Redis memory (KB, MEMORY USAGE) by key family: the first two parts of each key."""
    sizes: dict[str, int] = {}
    for key in r.scan_iter(count=1000):
        family = ":".join(key.decode(errors="replace").split(":")[:2])
        sizes[family] = sizes.get(family, 0) + int(r.memory_usage(key) or 0)
    return {k: v // 1024 for k, v in sorted(sizes.items(), key=lambda kv: -kv[1])}


def sample(t: float, r: redis.Redis, text: redis.Redis, pids: dict[str, int]) -> dict[str, Any]:
    """One row of the table."""
    info = r.info()
    row: dict[str, Any] = {"t": round(t), "backlog": events.pending_count(text)}
    row.update(redis_kb=int(info["used_memory"]) // 1024, clients=info["connected_clients"])
    fds = 0
    for name, pid in pids.items():
        rss = _tree(pid)[0] if name != "redis" else _proc(pid)[0]
        row[f"{name}_mb"] = round(rss, 1)
        fds += _proc(pid)[1]  # the long-lived processes' own (a horse's come and go)
    row["fds"] = fds
    return row


def main() -> None:
    """Run the soak and print its table; exit 1 if memory, descriptors or connections grew."""
    args = options(__doc__, seconds=600.0, rate=6.0, limit=4.0, workers=2)
    with tempfile.TemporaryDirectory(prefix="zc-soak-", dir="/tmp") as tmp, quiet_redis(tmp):
        rows, verdict = _run(args, Path(tmp))
    columns = list(rows[0])
    what = f"webhooks {args.rate}/s for {args.seconds * FEED:.0f} s, Zeeg limit {args.limit}/s"
    print(f"soak: {args.seconds:.0f} s, {what}")
    print("  " + "".join(f"{c:>11}" for c in columns))
    for row in rows:
        print("  " + "".join(f"{row[c]!s:>11}" for c in columns))
    for name, value in verdict.items():
        print(f"  {name}: {value}")
    if any(name.startswith("problem") and value for name, value in verdict.items()):
        sys.exit(1)


def _run(args: Any, directory: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    store = Redis(directory / "r")
    sandbox = Sandbox(token=ZEEG_TOKEN).start()
    sandbox.state.set_faults(latency_ms=10, rate_limit_per_second=args.limit)
    events_total = int(args.rate * args.seconds * FEED)
    rids = sandbox.state.seed("contacts", [{} for _ in range(events_total)])
    sections: dict[str, Any] = {"intake": SHORT, "retention": KEPT}
    sections["zeeg"] = {"rate_limit_per_second": args.limit * 2, "burst": 5}
    sections["sources.userdb"] = default_sources()["userdb"]
    procs = Workers(directory, store.url, sandbox, **sections)
    procs.env = web_env(procs.env)
    web = Web(directory, procs.env)
    try:
        return _soak(args, store, sandbox, procs, web, rids)
    finally:
        web.stop()
        procs.stop()
        sandbox.stop()
        store.sup.shutdown()


def _soak(
    args: Any, store: Redis, sandbox: Sandbox, procs: Workers, web: Web, rids: list[str]
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    conns = connect(store.url)
    for i, rid in enumerate(rids):
        mappings.put(conns.text, Mapping("userdb", "contacts", f"u-{i}", rid, 1.0))
    web.start()
    workers = procs.start(args.workers)
    time.sleep(5)  # imports done, connections open: the baseline
    pids = {"redis": store.sup.children[-1].proc.pid, "web": web.proc.pid}  # type: ignore[union-attr]
    pids.update({f"worker{i}": p.pid for i, p in enumerate(workers)})
    senders = Senders(web.url, make_settings(sandbox.url), len(rids), args.seconds * FEED, 1)
    feeder = threading.Thread(target=senders.run, args=(2,), daemon=True)
    started = time.monotonic()
    rows = [sample(0, conns.raw, conns.text, pids)]
    feeder.start()
    while (t := time.monotonic() - started) < args.seconds:
        time.sleep(max(0.0, 10 - (t % 10)))
        if time.monotonic() - started >= args.seconds - 1:
            retention.trim(conns.text, time.time(), RETENTION_DAYS, RETENTION_DAYS)
        rows.append(sample(time.monotonic() - started, conns.raw, conns.text, pids))
    left = len(sandbox.state.records.get("contacts", {}))
    return rows, _verdict(rows, conns.raw, len(senders.acked), len(rids), left)


def _after_job_expiry(r: redis.Redis) -> int:
    """used_memory (KB) once RQ's finished jobs are gone, as their day-long TTL would do.

    Deleting them is their expiry brought forward: it also frees what MEMORY USAGE does
    not count (their keyspace and expiry entries), once Redis shrinks its tables.
    """
    for family in RQ_KEPT:
        for key in r.scan_iter(f"{family}:*", count=1000):
            r.delete(key)
    time.sleep(3)  # serverCron resizes the emptied hash tables
    return int(r.info("memory")["used_memory"]) // 1024


def _verdict(
    rows: list[dict[str, Any]], r: redis.Redis, acked: int, sent: int, left: int
) -> dict[str, Any]:
    first, last = rows[0], rows[-1]
    warm = rows[min(2, len(rows) - 1)]  # every process connected by then: the baseline
    families = by_prefix(r)
    kept_kb = sum(v for k, v in families.items() if k in RQ_KEPT)
    end_kb = _after_job_expiry(r)
    return {
        "events acknowledged": f"{acked} of {sent}",
        "backlog peak": max(row["backlog"] for row in rows),
        "Redis keys at the end by family (KB)": families,
        "RQ jobs and results kept (1 day by design, KB)": kept_kb,
        "Redis once they expire (KB)": f"{end_kb} (start {first['redis_kb']})",
        "problem: Redis memory above start + 10%": end_kb > first["redis_kb"] * 1.10,
        "problem: backlog not drained": last["backlog"] != 0,
        "problem: records not deleted (an event expired in the backlog?)": left,
        "problem: descriptors grew": last["fds"] > warm["fds"] + 4,
        "problem: Redis connections grew": last["clients"] > warm["clients"] + 2,
    }


if __name__ == "__main__":
    main()
