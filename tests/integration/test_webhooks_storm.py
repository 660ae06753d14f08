"""A duplicate storm over real HTTP: every event sent five times at once, twice over."""

from __future__ import annotations

import collections
import concurrent.futures
import http.client
import json
import threading
import urllib.parse
from typing import Any

from consumer.devtools.sandbox import Sandbox
from consumer.models import Mapping
from consumer.queue import erasure_queue
from consumer.settings import Settings
from consumer.store import events, mappings
from consumer.store.connection import Connections
from consumer.web import create_app
from tests.helpers import RedisServer, deletes, drain, make_settings, serve, signed, userdb_body

EVENTS, COPIES, THREADS = 500, 5, 16


def _storm(url: str, settings: Settings, copies: int) -> list[tuple[int, str, str]]:
    """Each event copies times, the copies interleaved, from THREADS threads at once.

    Each thread keeps one http.client connection alive: a requests.Session costs about as
    much CPU per call as the app under test does, and the two share one interpreter here.
    """
    bodies = [(f"evt-{i}", userdb_body(f"evt-{i}", f"u-{i}")) for i in range(EVENTS)]
    sends = [b for _ in range(copies) for b in bodies]
    address = urllib.parse.urlsplit(url)
    own = threading.local()

    def send(item: tuple[str, bytes]) -> tuple[int, str, str]:
        event_id, body = item
        if not hasattr(own, "conn"):
            own.conn = http.client.HTTPConnection(address.netloc, timeout=30)
        own.conn.request(
            "POST", "/webhooks/userdb", body, signed(settings, "userdb", body, event_id)
        )
        answer = own.conn.getresponse()
        return answer.status, event_id, str(json.loads(answer.read()).get("status"))

    with concurrent.futures.ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(send, sends))


def test_a_duplicate_storm_makes_one_job_per_event_and_one_delete_per_record(
    conns: Connections, sandbox: Sandbox, redis_server: RedisServer
) -> None:
    """2,500 concurrent sends, then 2,500 more once done: 500 jobs, 500 DELETEs, no error."""
    env = {"REDIS_URL": redis_server.url}
    settings = make_settings(sandbox.url, env=env, zeeg={"rate_limit_per_second": 0})
    rids = sandbox.state.seed("contacts", [{} for _ in range(EVENTS)])
    for i, rid in enumerate(rids):
        mappings.put(conns.text, Mapping("userdb", "contacts", f"u-{i}", rid, 1.0))
    with serve(create_app(settings, redis=conns)) as url:
        first = _storm(url, settings, COPIES)
        assert len(erasure_queue(conns.raw)) == EVENTS  # one job per event, before any ran
        drain(settings, conns, timeout=60, in_process=True)
        second = _storm(url, settings, COPIES)
    answers = collections.Counter((code, status) for code, _, status in first + second)
    assert set(answers) <= {(202, "accepted"), (200, "duplicate")}, answers
    accepted = collections.Counter(e for code, e, _ in first if code == 202)
    assert sorted(accepted.values()) == [1] * EVENTS
    assert all(code == 200 for code, _, _ in second)
    assert len(erasure_queue(conns.raw)) == 0
    ok = collections.Counter(str(r["path"]).rsplit("/", 1)[-1] for r in deletes(sandbox, 200))
    assert sorted(ok.values()) == [1] * EVENTS
    received = [_received(conns, f"evt-{i}") for i in range(EVENTS)]
    assert received == [1] * EVENTS


def _received(conns: Connections, event_id: str) -> Any:
    return sum(1 for t in events.trail(conns.text, "userdb", event_id) if t["what"] == "received")
