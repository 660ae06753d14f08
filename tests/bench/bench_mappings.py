"""Mapping import rate and memory: 1,000,000 generated rows through the import path.

Run: .venv/bin/python -m tests.bench.bench_mappings [ROWS]   (default 1,000,000)
Uses REDIS_URL if set (its data is flushed!), else starts a throwaway redis-server.
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path

import redis

from consumer.mappings.files import read_rows
from consumer.mappings.linking import link_rows
from consumer.queue import erasure_queue
from consumer.store import keys, mappings
from consumer.store.connection import connect
from tests.helpers import RedisServer, make_settings


def generate(path: Path, rows: int) -> None:
    """A CSV of rows links, one record per external id, as an upstream export would be."""
    rng = random.Random(5)
    with path.open("w", encoding="utf-8") as out:
        out.write("source,object,external_id,record_id\n")
        for i in range(rows):
            out.write(f"userdb,contacts,user_{i:010d},{uuid.UUID(int=rng.getrandbits(128))}\n")


def memory_per_mapping(r: redis.Redis, rows: int, sample: int = 1000) -> float:
    """Mean `MEMORY USAGE` of sample mapping keys (SAMPLES 0: exact)."""
    picks = random.Random(6).sample(range(rows), min(sample, rows))
    total = 0
    for i in picks:
        total += int(
            r.memory_usage(keys.mapping("userdb", "contacts", f"user_{i:010d}"), samples=0) or 0
        )
    return total / len(picks)


def run(url: str, rows: int, directory: Path) -> None:
    """Generate, import, and print the figures."""
    conns = connect(url)
    conns.text.flushdb()
    settings = make_settings(env={"REDIS_URL": url})
    path = directory / "mappings.csv"
    generate(path, rows)
    before = int(conns.text.info("memory")["used_memory"])
    started = time.perf_counter()
    with path.open(encoding="utf-8") as f:
        report = link_rows(
            conns.text, erasure_queue(conns.raw), settings, read_rows(f), time.time()
        )
    elapsed = time.perf_counter() - started
    after = int(conns.text.info("memory")["used_memory"])
    assert report.linked == rows and report.error_count == 0
    print(f"import: {rows} rows in {elapsed:.1f} s = {rows / elapsed:,.0f} rows/s")
    started = time.perf_counter()
    exported = sum(1 for _ in mappings.scan(conns.text))
    elapsed = time.perf_counter() - started
    print(f"export: {exported} links in {elapsed:.1f} s = {exported / elapsed:,.0f} links/s")
    usage = memory_per_mapping(conns.text, rows)
    print(f"MEMORY USAGE per mapping key (mean of 1000): {usage:.0f} bytes")
    print(f"used_memory growth per mapping (incl. keyspace): {(after - before) / rows:.0f} bytes")


def main() -> None:
    """Print the import rate and the memory per mapping."""
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    with tempfile.TemporaryDirectory() as tmp:
        url = os.environ.get("REDIS_URL")
        if url:
            run(url, rows, Path(tmp))
            return
        server = RedisServer(Path(tmp) / "redis").start()
        try:
            run(server.url, rows, Path(tmp))
        finally:
            server.stop()


if __name__ == "__main__":
    main()
