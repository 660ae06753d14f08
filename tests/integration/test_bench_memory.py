"""The memory benchmarks write what the service writes."""

from __future__ import annotations

import time

from consumer import audit_chain
from consumer.queue import erasure_queue
from consumer.store import audit, keys
from consumer.store.connection import Connections
from tests.bench import bench_memory, bench_memory_events


def test_bench_memory_appends_a_linked_audit_chain(conns: Connections) -> None:
    """Each audit entry the benchmark writes links to the one before it, as the worker's do."""
    bench_memory.write(conns.text, erasure_queue(conns.raw), 3, time.time())
    rows = [fields for _, fields in conns.text.xrange(keys.AUDIT)]
    prevs = [audit_chain.GENESIS] + [row["hash"] for row in rows[:-1]]
    assert [row["prev"] for row in rows] == prevs
    assert audit.head(conns.text) == rows[-1]["hash"]


def test_bench_memory_events_breaks_memory_down_by_key_pattern(conns: Connections) -> None:
    """Keys are grouped by pattern, ids replaced by *, and deleting each group frees memory."""
    for i in range(3):
        conns.text.hset(keys.event("userdb", f"e:{i}"), mapping={"status": "done"})
    conns.text.xadd(keys.EVENT_LOG, {"event_id": "e:0"})
    rows = bench_memory_events.by_pattern(conns.text, 3)
    assert set(rows) == {"zc:event:*", keys.EVENT_LOG}
    assert rows["zc:event:*"]["keys"] == 3
    assert rows["zc:event:*"]["memory_usage"] > 0
    assert rows["zc:event:*"]["freed"] > 0
    assert conns.text.dbsize() == 0
