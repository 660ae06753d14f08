"""Redis outages around delivery: lost mid-job, and killed outright after events were accepted."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from consumer.devtools import runner
from consumer.devtools.sandbox import Sandbox
from consumer.models import Mapping
from consumer.settings import Settings
from consumer.store import audit, events, mappings
from consumer.store.connection import Connections, connect
from consumer.web import create_app
from tests.helpers import RedisServer, deletes, drain, make_settings, signed, userdb_body
from tests.workers import Workers, accept_mapped, all_done, wait_until


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.stop()


def test_redis_lost_mid_job_the_event_ends_once_redis_returns(
    tmp_path: Path, own_redis: RedisServer, sandbox: Sandbox
) -> None:
    """Redis stops during the DELETE and comes back on its AOF: the event ends, one deletion."""
    settings = make_settings(sandbox.url)
    conns = connect(own_redis.url)
    sandbox.state.set_faults(script=[{"delay_ms": 1500, "only": "DELETE"}])
    (rid,) = accept_mapped(settings, conns.text, conns.raw, sandbox, 1)
    workers = Workers(tmp_path, own_redis.url, sandbox)
    try:
        workers.start(1)
        wait_until(lambda: not sandbox.state.faults["script"], 30, "the DELETE to be in flight")
        own_redis.stop()
        wait_until(lambda: bool(deletes(sandbox)), 10, "the DELETE to be answered")
        own_redis.start()
        workers.start(1)
        wait_until(all_done(conns.text, 1), 60, "the event to be done\n" + workers.logs())
    finally:
        workers.stop()
    assert [r["status"] for r in deletes(sandbox) if r["status"] == 200] == [200]
    recorded = [(e["record_id"], e["outcome"]) for e in audit.entries(conns.text)]
    assert len(recorded) == 1 and recorded[0][0] == rid
    assert rid not in sandbox.state.records.get("contacts", {})
    runs = [t for t in events.trail(conns.text, "userdb", "evt-0") if t["what"] == "run"]
    assert len(runs) == 2  # the run cut by the outage, and the one after it


def _embedded_redis(directory: Path) -> tuple[runner.Supervisor, str]:
    sup = runner.Supervisor()
    return sup, runner.start_redis(sup, directory)


def test_accepted_events_survive_a_sigkilled_embedded_redis(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    """20 webhooks answered 202, redis-server killed -9 and restarted on its dir: all deleted."""
    sup, url = _embedded_redis(tmp_path / "r")
    settings = make_settings(sandbox.url, env={"REDIS_URL": url})
    conns = connect(url)
    client = create_app(settings, redis=conns).test_client()
    rids = accept_via_http(client, settings, conns, sandbox, 20)
    sup.children[0].proc.send_signal(signal.SIGKILL)
    sup.children[0].proc.wait(10)
    sup, url = _embedded_redis(tmp_path / "r")
    try:
        conns = connect(url)
        drain(settings, conns)
        outcomes = [(e["record_id"], e["outcome"]) for e in audit.entries(conns.text)]
    finally:
        sup.shutdown()
    assert sorted(outcomes) == sorted((rid, "deleted") for rid in rids)
    assert sandbox.state.records.get("contacts") == {}


def accept_via_http(
    client: FlaskClient, settings: Settings, conns: Connections, sandbox: Sandbox, n: int
) -> list[str]:
    """Seed and map n contacts, post one signed webhook each; every answer must be 202."""
    rids = sandbox.state.seed("contacts", [{} for _ in range(n)])
    for i, rid in enumerate(rids):
        mappings.put(conns.text, Mapping("userdb", "contacts", f"u-{i}", rid, 1.0))
        body = userdb_body(f"evt-{i}", f"u-{i}")
        answer = client.post(
            "/webhooks/userdb", data=body, headers=signed(settings, "userdb", body)
        )
        assert answer.status_code == 202
    return rids
