"""The memory benchmarks write what the service writes."""

from __future__ import annotations

import time

from consumer import audit_chain
from consumer.queue import erasure_queue
from consumer.store import audit, keys
from consumer.store.connection import Connections
from tests.bench import bench_memory


def test_bench_memory_appends_a_linked_audit_chain(conns: Connections) -> None:
    """Each audit entry the benchmark writes links to the one before it, as the worker's do."""
    bench_memory.write(conns.text, erasure_queue(conns.raw), 3, time.time())
    rows = [fields for _, fields in conns.text.xrange(keys.AUDIT)]
    prevs = [audit_chain.GENESIS] + [row["hash"] for row in rows[:-1]]
    assert [row["prev"] for row in rows] == prevs
    assert audit.head(conns.text) == rows[-1]["hash"]
