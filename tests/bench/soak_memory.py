"""What Redis memory is made of, for the soak: INFO memory and MEMORY STATS in parts, and the
keys by pattern (the patterns consumer/store/keys.py builds, and RQ's) with their TTLs.

    .venv/bin/python -m tests.bench.soak_memory REDIS_URL   # one breakdown, printed
"""

from __future__ import annotations

import inspect
import sys
from dataclasses import dataclass
from typing import Any

import redis

from consumer.store import keys

# INFO memory / MEMORY STATS parts, in bytes: together they add up to used_memory.
PARTS = {
    "used_memory": "used_memory",
    "dataset": "used_memory_dataset",
    "overhead": "used_memory_overhead",
    "startup": "used_memory_startup",
    "scripts": "used_memory_scripts",
}
STATS = {
    "clients": "clients.normal",
    "aof_buffer": "aof.buffer",
    "repl_backlog": "replication.backlog",
    "lua_caches": "lua.caches",
    "keys": "keys.count",
}


def _key_patterns() -> list[str]:
    """Every key shape keys.py builds, as a glob-like prefix, longest first (for matching)."""
    found = {v for k, v in vars(keys).items() if k.isupper() and isinstance(v, str)}
    for fn in vars(keys).values():
        if inspect.isfunction(fn) and fn.__module__ == keys.__name__:
            args = ["*"] * len(inspect.signature(fn).parameters)
            found.add(fn(*args).split("*")[0] + "*")
    found.discard(keys.PREFIX)
    return sorted(found, key=len, reverse=True)


PATTERNS = _key_patterns()


def pattern_of(key: str) -> str:
    """The keys.py pattern a key is built by; RQ's and unknown keys by their first two parts."""
    for p in PATTERNS:
        if key == p or (p.endswith("*") and key.startswith(p[:-1])):
            return p
    if ":intermediate:first_seen:" in key:  # RQ's, one per job its registry clean saw taken
        return key.split(":first_seen:")[0] + ":first_seen:*"
    parts = key.split(":")
    return ":".join(parts[:2]) + (":*" if len(parts) > 2 else "")


@dataclass
class Family:
    """Keys of one pattern: how many, their MEMORY USAGE, how many expire and the longest TTL."""

    count: int = 0
    bytes: int = 0
    expiring: int = 0
    max_ttl: int = -1


def families(r: redis.Redis) -> dict[str, Family]:
    """Every key grouped by pattern, biggest first (one pipeline per SCAN page)."""
    found: dict[str, Family] = {}
    cursor = 0
    while True:
        cursor, page = r.scan(cursor, count=1000)
        with r.pipeline(transaction=False) as pipe:
            for raw in page:
                pipe.memory_usage(raw, samples=0)
                pipe.ttl(raw)
            answers = pipe.execute()
        for i, raw in enumerate(page):
            _count(found, raw, answers[2 * i], answers[2 * i + 1])
        if cursor == 0:
            return dict(sorted(found.items(), key=lambda kv: -kv[1].bytes))


def _count(found: dict[str, Family], raw: Any, usage: Any, ttl: Any) -> None:
    key = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
    fam = found.setdefault(pattern_of(key), Family())
    fam.count += 1
    fam.bytes += int(usage or 0)
    if ttl is not None and int(ttl) >= 0:
        fam.expiring += 1
        fam.max_ttl = max(fam.max_ttl, int(ttl))


def parts(r: redis.Redis) -> dict[str, int]:
    """used_memory and its parts (bytes), from INFO memory and MEMORY STATS."""
    info: dict[str, Any] = r.info("memory")
    stats: dict[str, Any] = r.memory_stats()
    found = {name: int(info[field]) for name, field in PARTS.items()}
    found.update({name: int(stats.get(field, 0)) for name, field in STATS.items()})
    db = stats.get("db.0", {})
    found["dict_main"] = int(db.get("overhead.hashtable.main", 0))
    found["dict_expires"] = int(db.get("overhead.hashtable.expires", 0))
    found["clients_n"] = int(r.info("clients")["connected_clients"])
    found["slowlog"] = int(r.slowlog_len())
    return found


# Redis 7 keeps a latency histogram per command name from its first call (latency-tracking,
# on by default): 24,688 B each on redis 7.0.15 (measured: used_memory before and after a
# command's first call). Bounded by the number of command names, never freed but by
# CONFIG RESETSTAT: a one-off cost, not growth.
HISTOGRAM_BYTES = 24688


def commands(r: redis.Redis) -> set[str]:
    """The command names called since the server started (each holds a latency histogram)."""
    stats: dict[str, Any] = r.info("commandstats")
    return {name.removeprefix("cmdstat_") for name in stats}


def show(title: str, memory: dict[str, int], fams: dict[str, Family]) -> list[str]:
    """Printable lines of one breakdown."""
    counts = ("keys", "clients_n", "slowlog")
    kb = {k: v if k in counts else round(v / 1024, 1) for k, v in memory.items()}
    kb["in_keys"] = round(sum(f.bytes for f in fams.values()) / 1024, 1)
    lines = [f"{title}: " + ", ".join(f"{k} {v}" for k, v in kb.items()) + " (KB)"]
    for name, f in fams.items():
        ttl = f"ttl<={f.max_ttl}s on {f.expiring}" if f.expiring else "no ttl"
        lines.append(f"    {name:<28} {f.count:>6} keys {f.bytes / 1024:>9.1f} KB  {ttl}")
    return lines


# Keys of these patterns belong to events, records and jobs: each expires (its TTL comes from
# the settings the soak shortens) or is deleted (a mapping, once its record is erased), so
# none may be left once the run's TTLs have passed.
DRAINING = (
    "zc:event:*", "zc:trail:*", "zc:dedupe:*", "zc:erased:*", "zc:tomb:*", "zc:map:*",
    "zc:claim:*", "zc:idx:ev:*", "zc:idx:au:ext:*", "zc:idx:au:rec:*",
    "rq:job:*", "rq:results:*", "rq:execution:*", "rq:executions:*",
)  # fmt: skip
# Single keys whose length follows the events: trimmed (streams), emptied (queue, indexes) or
# cleaned by RQ's registry maintenance once the finished jobs expire.
LENGTHS = {
    keys.EVENT_LOG: "xlen", keys.AUDIT: "xlen", keys.PENDING: "zcard",
    f"rq:queue:{keys.QUEUE}": "llen", keys.RQ_SCHEDULED: "zcard",
    f"rq:finished:{keys.QUEUE}": "zcard", keys.RQ_FAILED: "zcard",
}  # fmt: skip
# Kept by design and bounded otherwise: one small hash per minute with outcomes, 25 hours;
# RQ's keys of each worker and scheduler (TTL about a minute; there are two scheduler keys
# while one worker takes the scheduler lock over from the other).
# RQ also keeps, a day, a "first seen" key of each job its registry cleaning found in the
# intermediate queue (taken by a worker at that instant): at most one per cleaning.
BY_TIME = (
    "zc:chart:*",
    "rq:scheduler:*",
    "rq:scheduler-lock:*",
    "rq:worker:*",
    f"rq:queue:{keys.QUEUE}:intermediate:first_seen:*",
)
SLACK = 4096  # bytes a kept key may vary by (a hash's encoding, a stream's last node)


def lengths(r: redis.Redis) -> dict[str, int]:
    """The length of each LENGTHS key (0 where it does not exist)."""
    with r.pipeline(transaction=False) as pipe:
        for key, command in LENGTHS.items():
            getattr(pipe, command)(key)
        return dict(zip(LENGTHS, map(int, pipe.execute()), strict=True))


def draining_bytes(fams: dict[str, Family]) -> int:
    """MEMORY USAGE of the keys that must be gone by the end (see DRAINING)."""
    return sum(f.bytes for name, f in fams.items() if name in DRAINING)


def growth(
    start: tuple[dict[str, Family], dict[str, int]], end: tuple[dict[str, Family], dict[str, int]]
) -> list[str]:
    """What is left that should have expired, been trimmed or stayed the same size."""
    (f0, l0), (f1, l1) = start, end
    left = [f"{n}: {f.count} keys" for n, f in f1.items() if n in DRAINING and f.count]
    left += [f"{k}: length {l1[k]} (start {l0[k]})" for k in LENGTHS if l1[k] > l0[k]]
    for name, f in f1.items():
        if name in DRAINING or name in BY_TIME:
            continue
        before = f0.get(name, Family())
        many = name.endswith("*") and f.count > before.count  # a single key may appear
        if many or f.bytes > before.bytes + SLACK:
            left.append(
                f"{name}: {f.count} keys {f.bytes} B (start {before.count}, {before.bytes} B)"
            )
    return left


class Snapshot:
    """used_memory's parts, the keys by pattern and the lengths of the long-lived keys."""

    def __init__(self, title: str, r: redis.Redis) -> None:
        self.title, self.parts = title, parts(r)
        self.fams, self.lengths = families(r), lengths(r)
        self.commands = commands(r)

    def lines(self) -> list[str]:
        """Printable lines."""
        return [*show(self.title, self.parts, self.fams), f"    lengths {self.lengths}"]


def main() -> None:
    """Print one breakdown of the Redis at argv[1]."""
    r = redis.Redis.from_url(sys.argv[1])
    print("\n".join(show("redis", parts(r), families(r))))


if __name__ == "__main__":
    main()
