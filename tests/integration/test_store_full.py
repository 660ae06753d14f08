"""A full Redis (maxmemory, noeviction): webhooks answer 503 and store nothing half-written,
workers neither lose nor fail jobs, and everything resumes once memory is freed."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from flask.testing import FlaskClient
from rq.registry import FailedJobRegistry

from consumer.devtools.sandbox import Sandbox
from consumer.models import Mapping
from consumer.queue import erasure_queue
from consumer.settings import Settings
from consumer.store import events, mappings
from consumer.store.connection import Connections, connect
from consumer.web import create_app
from tests.helpers import RedisServer, make_settings, signed, userdb_body
from tests.workers import Workers, all_done, wait_until


@pytest.fixture
def full_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of its own (this test fills it), with noeviction."""
    server = RedisServer(tmp_path / "redis").start()
    redis.Redis.from_url(server.url).config_set("maxmemory-policy", "noeviction")
    yield server
    server.stop()


def _fill(r: redis.Redis) -> None:
    """Make Redis full: a maxmemory below what it uses (noeviction refuses every write)."""
    used = int(r.info("memory")["used_memory"])
    r.config_set("maxmemory", used // 2)


def _post(client: FlaskClient, settings: Settings, i: int) -> tuple[int, Any]:
    body = userdb_body(f"evt-{i}", f"u-{i}")
    answer = client.post("/webhooks/userdb", data=body, headers=signed(settings, "userdb", body))
    return answer.status_code, answer.get_json()


def test_a_full_redis_rejects_webhooks_whole_and_delivery_resumes_when_freed(
    full_redis: RedisServer, sandbox: Sandbox, tmp_path: Path
) -> None:
    """503 and nothing stored while full; jobs in flight wait, none fails; freed, all are done."""
    conns: Connections = connect(full_redis.url)
    settings = make_settings(sandbox.url, env={"REDIS_URL": full_redis.url})
    client = create_app(settings, redis=conns).test_client()
    rids = sandbox.state.seed("contacts", [{} for _ in range(10)])
    for i, rid in enumerate(rids):
        mappings.put(conns.text, Mapping("userdb", "contacts", f"u-{i}", rid, 1.0))
    procs = Workers(tmp_path, full_redis.url, sandbox)
    sandbox.state.set_faults(latency_ms=500)  # DELETEs in flight while Redis fills up
    try:
        procs.start(1)
        assert [_post(client, settings, i)[0] for i in range(5)] == [202] * 5
        wait_until(lambda: len(sandbox.state.requests()) > 0, 10, "a first DELETE")
        _fill(conns.raw)
        # Taken once Redis is full, not before: the worker's writes after its DELETE would race
        # a snapshot taken earlier. From here no client can add a key.
        before = set(conns.text.keys("zc:*"))
        refused = [_post(client, settings, i) for i in range(5, 10)]
        assert {code for code, _ in refused} == {503}
        assert {body["error"] for _, body in refused} == {"store_unavailable"}
        after = set(conns.text.keys("zc:*"))
        assert after <= before, after - before  # nothing half-written: no key added
        assert not [k for k in after if any(f"evt-{i}" in k for i in range(5, 10))]
        time.sleep(3)  # the worker meets the full Redis
        assert FailedJobRegistry(queue=erasure_queue(conns.raw)).count == 0
        conns.raw.config_set("maxmemory", 0)  # memory freed
        assert [_post(client, settings, i)[0] for i in range(5, 10)] == [202] * 5
        wait_until(all_done(conns.text, 10), 10, "the drain after freeing\n" + procs.logs())
    finally:
        procs.stop()
    assert FailedJobRegistry(queue=erasure_queue(conns.raw)).count == 0
    assert sandbox.state.records["contacts"] == {}
    statuses = [events.load(conns.text, "userdb", f"evt-{i}") for i in range(10)]
    assert all(e is not None and e.status == "done" for e in statuses)
