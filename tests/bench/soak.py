"""Soak: steady webhooks above Zeeg's limit, a backlog that grows and drains, memory sampled.

    .venv/bin/python -m tests.bench.soak [--seconds 600] [--rate 6] [--limit 4] [--workers 2]
                                         [--retention 302]

Redis (AOF, appendfsync always), a gunicorn `zeeg-consumer web`, RQ workers and the sandbox
on loopback. The real settings are shortened so that trims and expiry happen within the run
(short_settings: events, dedupe keys, tombstones, erased markers and audit entries kept
`retention` seconds, longer than the backlog's longest wait; a trim every 30 s; finished jobs
and their results kept 60 s). A warm-up of 12 events opens every process's connections and
calls every command once (see soak_memory.HISTOGRAM_BYTES); the baseline is taken idle after
it. Senders then POST signed webhooks at `rate` per second for the first 30%; the sandbox
answers 429 (Retry-After) past `limit` calls per second, so a backlog grows, then drains.
Every 10 s it samples the backlog, Redis used_memory and connected clients, and each
process's RSS and open descriptors; after `seconds` it goes on until every key that should
expire or be trimmed is gone (or its last TTL passed). Prints the table and used_memory's
parts with the keys by pattern at the start, the peak and the end. Fails if a key that should
have gone is left, if Redis memory ends above its start (less the keys that drain) + 10%, or
if descriptors or connections grew (in the idle tail, or from the start past what the load
opens once: the web's connections and each worker's job threads').
"""

from __future__ import annotations

import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis

from consumer.devtools.sandbox import Sandbox
from consumer.models import Mapping
from consumer.settings.model import DeliverySettings
from consumer.store import events, mappings
from consumer.store.connection import Connections, connect
from tests.bench import options
from tests.bench import soak_memory as sm
from tests.bench.chaos_parts import Redis, Senders, Web, quiet_redis, web_env
from tests.helpers import ZEEG_TOKEN, default_sources, make_settings
from tests.workers import Workers, descendants

RETENTION = 302.0  # seconds (0.0035 days): longer than the backlog's longest wait (429 retries)
TRIM_SECONDS = 30  # the workers' retention trim, every 30 s instead of hourly
JOB_RESULT_SECONDS = 60  # RQ keeps a finished job and its result a minute instead of an hour


def short_settings(retention: float) -> dict[str, dict[str, Any]]:
    """The real settings the soak shortens, so that trims and expiry happen within the run."""
    days = retention / 86400
    return {
        "intake": {"dedupe_ttl_days": days, "event_log_retention_days": days},
        "retention": {
            "audit_retention_days": days,
            "tombstone_days": days,
            "trim_interval_seconds": TRIM_SECONDS,
            "job_result_seconds": JOB_RESULT_SECONDS,
        },
    }


FEED = 0.3  # webhooks arrive for the first 30% of the run
WARM_UP = 12  # events sent before the baseline, so every process has its connections open
SENDERS = 2  # sender threads (the web process opens about as many Redis connections)
# Connections a pool opens only under load, once: each (of 2) worker's heartbeat thread shares
# the worker's pool (a second connection when a beat meets the worker's own call), and each of the
# 2 gunicorn processes opens one per concurrent request (the senders' threads).
LOAD_CONNECTIONS = 2 + 2 * SENDERS


def load_connections(workers: int) -> int:
    """LOAD_CONNECTIONS, and each worker's job threads beyond the first ([delivery]
    jobs_in_flight, started as the backlog needs them): a Redis connection each when they
    meet in the pool, and (in descriptors) a Zeeg connection each."""
    return LOAD_CONNECTIONS + workers * (DeliverySettings().jobs_in_flight - 1)


# After the run, how long the last TTLs may take beyond the retention: the next trim, the
# results' TTL and RQ's registry cleaning.
EXPIRY_WAIT = TRIM_SECONDS + JOB_RESULT_SECONDS + 60


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
    """Run the soak and print its table; exit 1 if memory, keys, descriptors or connections grew."""
    args = options(__doc__, seconds=600.0, rate=6.0, limit=4.0, workers=2, retention=RETENTION)
    with tempfile.TemporaryDirectory(prefix="zc-soak-", dir="/tmp") as tmp, quiet_redis(tmp):
        rows, shots, verdict = _run(args, Path(tmp))
    columns = list(rows[0])
    what = f"webhooks {args.rate}/s for {args.seconds * FEED:.0f} s, Zeeg limit {args.limit}/s"
    print(f"soak: {args.seconds:.0f} s, {what}, then until every TTL passed")
    print("  " + "".join(f"{c:>11}" for c in columns))
    for row in rows:
        print("  " + "".join(f"{row[c]!s:>11}" for c in columns))
    for shot in shots:
        print("\n".join(shot.lines()))
    for name, value in verdict.items():
        print(f"  {name}: {value}")
    if any(name.startswith("problem") and value for name, value in verdict.items()):
        sys.exit(1)


def _run(
    args: Any, directory: Path
) -> tuple[list[dict[str, Any]], list[sm.Snapshot], dict[str, Any]]:
    store = Redis(directory / "r")
    sandbox = Sandbox(token=ZEEG_TOKEN).start()
    sandbox.state.set_faults(latency_ms=10, rate_limit_per_second=args.limit)
    events_total = int(args.rate * args.seconds * FEED)
    rids = sandbox.state.seed("contacts", [{} for _ in range(WARM_UP + events_total)])
    sections: dict[str, Any] = short_settings(args.retention)
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
) -> tuple[list[dict[str, Any]], list[sm.Snapshot], dict[str, Any]]:
    conns = connect(store.url)
    for i, rid in enumerate(rids):
        mappings.put(conns.text, Mapping("userdb", "contacts", f"u-{i}", rid, 1.0))
    web.start()
    workers = procs.start(args.workers)
    pids = {"redis": store.sup.children[-1].proc.pid, "web": web.proc.pid}  # type: ignore[union-attr]
    pids.update({f"worker{i}": p.pid for i, p in enumerate(workers)})
    settings = make_settings(sandbox.url)
    time.sleep(5)  # imports done: the baseline earlier soaks took (no webhook yet)
    sm.Snapshot("its own commands' first calls", conns.raw)  # see sm.HISTOGRAM_BYTES
    shots = [sm.Snapshot("cold (before the warm-up)", conns.raw)]
    _warm_up(web.url, settings, conns.text, sandbox)
    shots.append(sm.Snapshot("start (idle, every process connected)", conns.raw))
    senders = Senders(web.url, settings, len(rids), args.seconds * FEED, 1)
    senders.next = WARM_UP  # evt-0 .. evt-11 were the warm-up
    feeder = threading.Thread(target=senders.run, args=(SENDERS,), daemon=True)
    sampler = Sampler(conns, pids)
    feeder.start()
    sampler.run(args.seconds, lambda: False)
    # Then until nothing is left that should go (or its last TTL passed: a problem then).
    sampler.run(
        args.seconds + args.retention + EXPIRY_WAIT,
        lambda: not sm.growth(_state(shots[1]), _now(conns)),
    )
    shots += [sampler.peak, sm.Snapshot(f"end (t={sampler.rows[-1]['t']})", conns.raw)]
    left = len(sandbox.state.records.get("contacts", {}))
    acked = len(senders.acked)
    sent = len(rids) - WARM_UP
    return sampler.rows, shots, _verdict(sampler.rows, shots, acked, sent, left, args.workers)


class Sampler:
    """A row every 10 s from the start of the feed; a snapshot at the highest used_memory."""

    def __init__(self, conns: Connections, pids: dict[str, int]) -> None:
        self.conns, self.pids = conns, pids
        self.started = time.monotonic()
        self.rows = [sample(0, conns.raw, conns.text, pids)]
        self.peak = sm.Snapshot("peak", conns.raw)

    def run(self, until: float, stop: Callable[[], bool]) -> None:
        """Sample until `until` seconds from the start, or until stop() holds."""
        while (t := time.monotonic() - self.started) < until and not stop():
            time.sleep(max(0.0, 10 - (t % 10)))
            row = sample(
                time.monotonic() - self.started, self.conns.raw, self.conns.text, self.pids
            )
            self.rows.append(row)
            if row["redis_kb"] * 1024 > self.peak.parts["used_memory"]:
                self.peak = sm.Snapshot(f"peak (t={row['t']})", self.conns.raw)


def _state(shot: sm.Snapshot) -> tuple[dict[str, sm.Family], dict[str, int]]:
    return shot.fams, shot.lengths


def _now(conns: Connections) -> tuple[dict[str, sm.Family], dict[str, int]]:
    return sm.families(conns.raw), sm.lengths(conns.raw)


def _warm_up(url: str, settings: Any, text: redis.Redis, sandbox: Sandbox) -> None:
    """WARM_UP events through web and workers (their connection pools and scripts), then idle."""
    Senders(url, settings, WARM_UP, WARM_UP / 6, 1).run(SENDERS)
    deadline = time.monotonic() + 60
    while events.pending_count(text) and time.monotonic() < deadline:
        time.sleep(0.5)
    time.sleep(5)  # the workers' next maintenance and heartbeats: an idle system


def _verdict(
    rows: list[dict[str, Any]],
    shots: list[sm.Snapshot],
    acked: int,
    sent: int,
    left: int,
    workers: int,
) -> dict[str, Any]:
    cold, start, peak, end = shots
    first, last = rows[0], rows[-1]
    fair = start.parts["used_memory"] - sm.draining_bytes(start.fams)
    kb = end.parts["used_memory"] // 1024
    grown = sm.growth(_state(start), _state(end))
    new = sorted(end.commands - start.commands)
    less = end.parts["used_memory"] - len(new) * sm.HISTOGRAM_BYTES
    return {
        "cold -> start: used_memory KB, clients, commands called": _cold(cold, start),
        "events acknowledged": f"{acked} of {sent}",
        "backlog peak": max(row["backlog"] for row in rows),
        "Redis used_memory (KB)": f"start {start.parts['used_memory'] // 1024}, "
        f"peak {peak.parts['used_memory'] // 1024}, end {kb}",
        "start less the keys that drain (warm-up's, mappings; KB)": fair // 1024,
        "end / that start": f"{end.parts['used_memory'] / fair:.3f}",
        "commands first called after the start (a latency histogram each)": new,
        "end less those histograms / that start": f"{less / fair:.3f}",
        "RSS start -> end (MB)": _rss(first, last),
        "fds, Redis clients (start, backlog drained, end)": _levels(rows),
        "problem: keys left that should have gone": grown,
        "problem: Redis memory above start + 10%": less > fair * 1.10,
        "problem: backlog not drained": last["backlog"] != 0,
        "problem: records not deleted (an event expired in the backlog?)": left,
        "problem: descriptors grew": _grew(rows, "fds", 2 * load_connections(workers)),
        "problem: Redis connections grew": _grew(rows, "clients", load_connections(workers)),
    }


def _drained(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The first row with no backlog after its peak."""
    peak = max(range(len(rows)), key=lambda i: rows[i]["backlog"])
    return next((r for r in rows[peak:] if r["backlog"] == 0), rows[-1])


def _levels(rows: list[dict[str, Any]]) -> str:
    """Descriptors and connections at the start, when the backlog drained and at the end."""
    at = (rows[0], _drained(rows), rows[-1])
    return "; ".join(" -> ".join(str(r[c]) for r in at) for c in ("fds", "clients"))


def _grew(rows: list[dict[str, Any]], column: str, load: int) -> bool:
    """Whether column grew in the idle tail (from the backlog's first drain to the end) or,
    from the start, past what the load opens once (see LOAD_CONNECTIONS)."""
    drained = _drained(rows)
    first, last = rows[0][column], rows[-1][column]
    return bool(last > drained[column] or last > first + load)


def _cold(cold: sm.Snapshot, start: sm.Snapshot) -> str:
    """What the warm-up adds to a baseline taken before any webhook."""
    return ", ".join(
        f"{a} -> {b}"
        for a, b in (
            (cold.parts["used_memory"] // 1024, start.parts["used_memory"] // 1024),
            (cold.parts["clients_n"], start.parts["clients_n"]),
            (len(cold.commands), len(start.commands)),
        )
    )


def _rss(first: dict[str, Any], last: dict[str, Any]) -> str:
    """Each process's RSS at the start and the end of the run."""
    names = [c for c in first if c.endswith("_mb")]
    return ", ".join(f"{n[:-3]} {first[n]} -> {last[n]}" for n in names)


if __name__ == "__main__":
    main()
