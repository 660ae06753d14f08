"""Chaos: webhooks through killed web processes, a faulty Zeeg, SIGKILLed workers, Redis -9.

    .venv/bin/python -m tests.bench.chaos_delivery [--events 2000] [--workers 4]
        [--seconds 90] [--seed 1]

Redis runs as `zeeg-consumer run` embeds it (AOF, appendfsync always); the sandbox answers 10%
500s, 5% timeouts (slower than the workers' 1 s read timeout, and taking effect), 5% dropped
connections and bursts of 429 with Retry-After. Senders POST signed webhooks to a gunicorn
`zeeg-consumer web` at a steady pace, retrying any non-2xx. Meanwhile, every 1-3 s, one of: a
random worker SIGKILLed (with its children: its scheduler), a worker SIGKILLed mid-job (the
worker runs its jobs itself, so this is what killing a work horse was), the web process
SIGKILLed (and restarted), Redis killed -9 (and restarted on its AOF). Then the faults stop
and the workers drain. The workers run with the default recovery timings. Asserts that every
acknowledged event is done, every mapped record is gone, no record had two successful
DELETEs, every record has exactly one audit entry, and that a killed worker's event ran
again within 30 s (p99); prints the figures, and each worker kill with what its worker held
(a running job, or one taken and not started) and how long that took to run again. Exits
non-zero on a violation (`make chaos`). tests/integration/test_chaos_short.py runs a short
one.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import random
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import redis
import requests

from consumer.devtools.sandbox import Sandbox
from consumer.models import Mapping
from consumer.settings.model import DeliverySettings
from consumer.store import audit, events, mappings
from consumer.store.connection import Connections, connect
from tests.bench import options
from tests.bench.chaos_parts import (
    Overdue,
    Redis,
    Senders,
    Web,
    describe,
    held_by,
    quiet,
    quiet_redis,
    stranded,
    web_env,
)
from tests.helpers import ZEEG_TOKEN, default_sources, make_settings
from tests.workers import Workers, all_done, kill_tree, wait_until

RECOVERY_P99_SECONDS = 30.0
FAULTS = {"error_rate": 0.10, "timeout_rate": 0.05, "timeout_ms": 1500, "drop_rate": 0.05}
FAULTS.update(burst_rate=0.005, burst_calls=15, retry_after="1", only="DELETE")
KILLS = (("worker", 0.35), ("mid-job", 0.25), ("web", 0.2), ("redis", 0.2))
# The default recovery timings (a killed job runs again within heartbeat + grace +
# maintenance seconds, docs/resilience.md); attempts enough for the faults' retries.
RECOVERY: dict[str, Any] = {
    key: getattr(DeliverySettings(), key)
    for key in ("maintenance_interval_seconds", "job_heartbeat_seconds", "heartbeat_grace_seconds")
}
RECOVERY.update(max_attempts=25)


@dataclasses.dataclass(frozen=True)
class Plan:
    """One chaos run: how many events, workers, seconds of chaos, and the seed."""

    events: int = 2000
    workers: int = 4
    seconds: float = 90.0
    seed: int = 1
    delivery: dict[str, Any] = dataclasses.field(default_factory=lambda: dict(RECOVERY))
    drain_seconds: float = 600.0


@dataclasses.dataclass
class Chaos:
    """What the chaos did: kills by kind, when, and the events the killed workers held.

    victims: (when, kill kind, what the worker held: "running" or "taken", event id).
    """

    kills: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)
    victims: list[tuple[float, str, str, str]] = dataclasses.field(default_factory=list)
    log: list[tuple[float, str]] = dataclasses.field(default_factory=list)  # (when, what)
    last_fault: float = 0.0
    started: float = dataclasses.field(default_factory=time.time)
    kill_table: list[str] = dataclasses.field(default_factory=list)


def run(plan: Plan, directory: Path) -> dict[str, Any]:
    """Feed, kill and restart, drain, verify; returns {"figures", "problems"}."""
    store = Redis(directory / "r")
    sandbox = Sandbox(token=ZEEG_TOKEN).start()
    sandbox.state.set_faults(latency_ms=10, random={"seed": plan.seed, **FAULTS})
    zeeg = {"rate_limit_per_second": 200.0, "burst": 20, "read_timeout_seconds": 1.0}
    sections = {"zeeg": zeeg, "delivery": plan.delivery}
    sections["sources.userdb"] = default_sources()["userdb"]
    procs = Workers(directory, store.url, sandbox, **sections)
    procs.env = web_env(procs.env)  # the config names the userdb source: both need its secret
    web = Web(directory, procs.env)
    try:
        return _run(plan, store, sandbox, procs, web)
    finally:
        web.stop()
        procs.stop()
        sandbox.stop()
        store.sup.shutdown()


def _run(plan: Plan, store: Redis, sandbox: Sandbox, procs: Workers, web: Web) -> dict[str, Any]:
    conns = connect(store.url)
    rids = _seed(conns, sandbox, plan.events)
    web.start()
    procs.start(plan.workers)
    senders = Senders(
        web.url, make_settings(sandbox.url), plan.events, plan.seconds * 0.8, plan.seed
    )
    feeder = threading.Thread(target=senders.run)
    started = time.time()
    overdue = Overdue(store.url)
    overdue.start()
    feeder.start()
    chaos = _chaos(procs, store, web, random.Random(plan.seed), time.monotonic() + plan.seconds)
    feeder.join()
    sandbox.state.set_faults(random=None)
    chaos.last_fault = time.time()
    done = quiet(all_done(conns.text, plan.events))
    wait_until(done, plan.drain_seconds, "the drain (worker logs in the run's directory)")
    late = overdue.stop()
    result = _verify(conns, sandbox, rids, senders.acked)
    last_done = max(_completed_at(conns, e) for e in senders.acked)
    recovery = _recovery(conns, chaos)
    result["figures"] = {
        "events acknowledged": f"{len(senders.acked)} of {plan.events}",
        "kills": dict(chaos.kills),
        "Zeeg faults": requests.get(f"{sandbox.root}/_sandbox/stats", timeout=5).json()["faults"],
        "webhook answers": dict(senders.answers),
        "sender retries": senders.retries,
        "duplicates answered (200)": senders.duplicates,
        "worker retries (rescheduled runs)": _reschedules(conns, senders.acked),
        "wall time (s)": round(time.time() - started, 1),
        "last fault -> last event done (s)": round(last_done - chaos.last_fault, 1),
        "recovery after SIGKILL (s)": recovery,
        "worker kills (when, kind, what the worker held, its next run)": chaos.kill_table,
        "scheduled retries past due": late,
        **result["figures"],
    }
    if recovery["n"] and recovery["p99"] > RECOVERY_P99_SECONDS:
        result["problems"]["recovery p99 over 30 s"] = recovery["p99"]
    return result


def _seed(conns: Connections, sandbox: Sandbox, n: int) -> list[str]:
    rids = sandbox.state.seed("contacts", [{} for _ in range(n)])
    for i, rid in enumerate(rids):
        mappings.put(conns.text, Mapping("userdb", "contacts", f"u-{i}", rid, 1.0))
    return rids


def _chaos(procs: Workers, store: Redis, web: Web, rng: random.Random, until: float) -> Chaos:
    """Kill something every 1-3 s until the deadline; keep the worker count up."""
    chaos = Chaos()
    alive = len(procs.procs)
    raw = redis.Redis.from_url(store.url)
    while time.monotonic() < until:
        time.sleep(rng.uniform(1, 3))
        kind = rng.choices([k for k, _ in KILLS], [w for _, w in KILLS])[0]
        running = [p for p in procs.procs if p.poll() is None]
        if kind == "worker" and running:
            _kill_worker(raw, rng.choice(running).pid, kind, chaos)
        elif kind == "mid-job" and running:
            _kill_worker(raw, _busy(raw, [p.pid for p in running], rng), kind, chaos)
        elif kind == "web":
            web.kill()
            time.sleep(rng.uniform(0.2, 1.0))
            web.start()
        else:
            store.kill()
            time.sleep(rng.uniform(0.2, 1.5))
            store.restart()
        chaos.kills[kind] += 1
        chaos.log.append((time.time(), kind))
        time.sleep(0.3)
        procs.start(alive - sum(1 for p in procs.procs if p.poll() is None))
    return chaos


def _busy(raw: redis.Redis, pids: list[int], rng: random.Random) -> int:
    """A worker that is running a job, polled for up to 2 s; any of pids if none is."""
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        busy = [pid for pid in pids if held_by(raw, pid)]
        if busy:
            return rng.choice(busy)
        time.sleep(0.02)
    return rng.choice(pids)


def _kill_worker(raw: redis.Redis, pid: int, kind: str, chaos: Chaos) -> None:
    """SIGKILL a worker with its children (its scheduler); note the events it held."""
    held = held_by(raw, pid)
    with contextlib.suppress(redis.exceptions.RedisError):  # who may hold RQ's cleaning lock
        chaos.log.append(
            (time.time(), f"cleaning-lock ttl {raw.ttl('rq:clean_registries:zc-erasure')}")
        )
    at = time.time()
    kill_tree(pid, signal.SIGKILL)
    time.sleep(0.2)
    held_ids = {event_id for _, event_id in held}
    taken = [event_id for _, event_id in stranded(raw) if event_id not in held_ids]
    chaos.victims += [(at, kind, "running", event_id) for _, event_id in held]
    chaos.victims += [(at, kind, "taken", event_id) for event_id in taken]
    if not held and not taken:
        chaos.victims.append((at, kind, "idle", ""))


# A job that recorded one of these had handed its event to a scheduled job before the kill:
# the next run is that retry's, at the back of the queue (a backlog wait, not a recovery).
HANDED_OFF = ("retrying", "rate_limited", "auth_paused")


def _recovery(conns: Connections, chaos: Chaos) -> dict[str, Any]:
    """Seconds from each kill to the next run of an event the killed worker held."""
    waits: list[tuple[float, str]] = []
    handed: list[float] = []
    chaos.kill_table = []
    for at, kind, path, event_id in chaos.victims:
        trail = events.trail(conns.text, "userdb", event_id) if event_id else []
        wait = _rerun_after(trail, at) if event_id else None
        before = [t["what"] for t in trail if float(t["at"]) <= at]
        off = bool(before) and before[-1] in HANDED_OFF
        chaos.kill_table.append(_kill_row(at - chaos.started, kind, path, event_id, wait, off))
        if wait is None:
            continue
        if off:
            handed.append(wait)
            continue
        whats = " ".join(f"{t['what']}@{float(t['at']) - at:+.1f}" for t in trail)
        near = [f"{what}@{when - at:+.1f}" for when, what in chaos.log if -1 < when - at < 60]
        waits.append((wait, f"{event_id}: {whats}; chaos: {', '.join(near)}"))
    slowest = [story for _, story in sorted(waits, reverse=True)[:2]]
    return {**describe([w for w, _ in waits]), "slowest": slowest, "handed off": describe(handed)}


def _rerun_after(trail: list[dict[str, Any]], at: float) -> float | None:
    """Seconds from at to the event's next run; None if it was done before at (or never ran)."""
    if any(t["what"] == "done" and float(t["at"]) <= at for t in trail):
        return None  # it finished before the kill landed
    runs = [float(t["at"]) for t in trail if t["what"] == "run" and float(t["at"]) > at]
    return min(runs) - at if runs else None


def _kill_row(at: float, kind: str, path: str, event_id: str, wait: float | None, off: bool) -> str:
    again = "finished before the kill" if wait is None else f"ran again after {wait:.1f} s"
    if off and wait is not None:
        again += " (its job had scheduled its retry before the kill: not a recovery)"
    held = f"{path} {event_id}" if event_id else "nothing (idle)"
    return f"+{at:5.1f} s {kind:8} held {held}: {again if event_id else '-'}"


def _reschedules(conns: Connections, acked: list[str]) -> int:
    return sum(
        1
        for e in acked
        for t in events.trail(conns.text, "userdb", e)
        if t["what"] in ("retrying", "rate_limited")
    )


def _completed_at(conns: Connections, event_id: str) -> float:
    return float(events.load_hash(conns.text, "userdb", event_id).get("completed_at") or 0)


def _events(conns: Connections, acked: list[str]) -> list[Any]:
    return [e for i in acked if (e := events.load(conns.text, "userdb", i)) is not None]


def _verify(
    conns: Connections, sandbox: Sandbox, rids: list[str], acked: list[str]
) -> dict[str, Any]:
    """Every acknowledged event done; at most one 200 DELETE and one audit entry per record."""
    deletes = [r for r in sandbox.state.requests() if r["method"] == "DELETE"]
    ok = collections.Counter(
        str(r["path"]).rsplit("/", 1)[-1] for r in deletes if r["status"] == 200
    )
    audited = collections.Counter(e["record_id"] for e in audit.entries(conns.text))
    done = sum(1 for e in _events(conns, acked) if e.status == "done")
    runs = [
        sum(1 for t in events.trail(conns.text, "userdb", e) if t["what"] == "run") for e in acked
    ]
    problems = {
        "acknowledged events not done": len(set(acked)) - done,
        "records with two or more 200 DELETEs": sum(1 for rid in rids if ok[rid] > 1),
        "records without exactly one audit entry": sum(1 for rid in rids if audited[rid] != 1),
        "records still in the sandbox": len(sandbox.state.records.get("contacts", {})),
    }
    for rid in rids:
        if ok[rid] != 1 or audited[rid] != 1:
            print(f"record {rid}: {ok[rid]} x 200, {audited[rid]} audit entries", file=sys.stderr)
    figures = {
        "DELETE calls": len(deletes),
        "DELETE answers": dict(collections.Counter(str(r["status"]) for r in deletes)),
        "runs per event (max)": max(runs, default=0),
        "events run more than once": sum(1 for r in runs if r > 1),
    }
    return {"problems": problems, "figures": figures}


def main() -> None:
    """Run the chaos once and print its figures; exit 1 if anything accepted was lost."""
    args = options(__doc__, events=2000, workers=4, seconds=90.0, seed=1)
    plan = Plan(args.events, args.workers, args.seconds, args.seed)
    with tempfile.TemporaryDirectory(prefix="zc-chaos-", dir="/tmp") as tmp, quiet_redis(tmp):
        result = run(plan, Path(tmp))
    report(plan, result)
    if any(result["problems"].values()):
        sys.exit(1)


def report(plan: Plan, result: dict[str, Any]) -> None:
    """Print the figures and the problems (each should be 0)."""
    what = f"{plan.events} events, {plan.workers} workers, {plan.seconds:.0f} s"
    print(f"chaos: {what}, seed {plan.seed}")
    for name, value in {**result["figures"], **result["problems"]}.items():
        if isinstance(value, list):
            print(f"  {name}:", *(f"    {row}" for row in value), sep="\n")
        else:
            print(f"  {name}: {value}")


if __name__ == "__main__":
    main()
