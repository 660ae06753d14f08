"""A large POST /admin/replay runs as a background job on the workers, with a status URL."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import requests
from flask import Flask

from consumer.devtools.sandbox import Sandbox
from consumer.ops import background as bg
from consumer.queue import admin_queue, fetch
from consumer.store import events
from consumer.store.connection import Connections
from consumer.web.state import state
from tests.helpers import ADMIN_TOKEN, RedisServer, accept_event, serve
from tests.workers import Workers, wait_until

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def _accept(conns: Connections, n: int) -> None:
    for i in range(n):
        accept_event(conns, f"e-{i}", f"u-{i}", time.time())


def _get(url: str) -> dict[str, Any]:
    answer = requests.get(url, headers=AUTH, timeout=5)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def test_a_replay_over_the_limit_is_a_job_a_real_worker_runs(
    admin_app: Flask,
    conns: Connections,
    redis_server: RedisServer,
    sandbox: Sandbox,
    tmp_path: Path,
) -> None:
    """Over SYNC_LIMIT events: 202 at once, Location to the job, progress to done."""
    n = bg.SYNC_LIMIT + 1
    _accept(conns, n)
    # One job at a time: the replay then runs before any erasure, so it selects all n events
    # (with several in flight, the ones a worker runs beside it are skipped, as they should be).
    workers = Workers(tmp_path, redis_server.url, sandbox, delivery={"jobs_in_flight": 1})
    with serve(admin_app) as url:
        answer = requests.post(
            f"{url}/admin/replay",
            json={"reason": "outage over", "by": "ana"},
            headers=AUTH,
            timeout=5,
        )
        assert answer.status_code == 202, answer.text
        started = answer.json()
        assert started["selected"] == n and started["status"] == "queued"
        assert answer.headers["Location"] == started["status_url"]
        assert _get(url + started["status_url"])["status"] == "queued"
        workers.start(1)
        try:
            wait_until(lambda: _get(url + started["status_url"])["status"] == "done", 30, "done")
        finally:
            workers.stop()
        job = _get(url + started["status_url"])
    assert (job["processed"], job["replayed"] + job["skipped"]) == (n, n)
    assert len(job["results"]) == n and job["by"] == "admin-api:ana"
    assert job["reason"] == "outage over" and job["error"] is None
    replayed = [r for r in job["results"] if r["job_id"]]
    assert len(replayed) == job["replayed"] > 0
    for r in replayed:
        event = events.load(conns.text, "userdb", r["event_id"])
        assert event is not None and event.replayed and event.job_id == r["job_id"]


def test_background_true_makes_a_small_replay_a_job(admin_app: Flask, conns: Connections) -> None:
    """ "background": true queues even two events; the job's function then replays them."""
    _accept(conns, 2)
    client = admin_app.test_client()
    answer = client.post("/admin/replay", json={"reason": "r", "background": True}, headers=AUTH)
    assert answer.status_code == 202
    job_id = answer.get_json()["job_id"]
    assert fetch(admin_queue(conns.raw), job_id) is not None  # on the admin queue
    done = bg.execute_replay(state(admin_app).ops(), job_id)
    assert (done["status"], done["selected"], done["processed"]) == ("done", 2, 2)
    assert client.get(f"/admin/jobs/{job_id}", headers=AUTH).get_json()["status"] == "done"


def test_a_small_replay_is_still_answered_at_once(admin_app: Flask, conns: Connections) -> None:
    """Up to SYNC_LIMIT events (no "background"): 200 with the replayed list, as before."""
    _accept(conns, 3)
    answer = admin_app.test_client().post("/admin/replay", json={"reason": "r"}, headers=AUTH)
    assert answer.status_code == 200
    assert len(answer.get_json()["replayed"]) == 3


def test_a_job_whose_rq_job_is_gone_shows_as_failed(admin_app: Flask, conns: Connections) -> None:
    """A record left "queued" by a job that no longer exists is reported failed, not pending."""
    _accept(conns, 1)
    client = admin_app.test_client()
    body = {"reason": "r", "background": True}
    job_id = client.post("/admin/replay", json=body, headers=AUTH).get_json()["job_id"]
    conns.raw.delete(f"rq:job:{job_id}")
    shown = client.get(f"/admin/jobs/{job_id}", headers=AUTH).get_json()
    assert (shown["status"], shown["error"]) == ("failed", "the job is gone")


def test_an_unknown_job_is_a_404(admin_app: Flask, conns: Connections) -> None:
    """Unknown or malformed job ids: 404 with the usual error body."""
    client = admin_app.test_client()
    for job_id in ("0" * 32, "nope"):
        answer = client.get(f"/admin/jobs/{job_id}", headers=AUTH)
        assert answer.status_code == 404
        assert answer.get_json()["error"] == "not_found"


def test_the_audit_export_is_streamed_over_http(admin_app: Flask, conns: Connections) -> None:
    """GET /admin/audit sends its rows as they are read (chunked, no Content-Length), batch by
    batch, so a large export is never built in memory nor held up before its first byte."""
    from consumer.store import audit, keys

    with conns.text.pipeline(transaction=False) as pipe:
        for i in range(2500):  # more than two of the store's read batches
            pipe.xadd(keys.AUDIT, {name: f"v{i}" for name in audit.FIELDS if name != "occurred_at"})
        pipe.execute()
    with serve(admin_app) as url:
        answer = requests.get(f"{url}/admin/audit", headers=AUTH, stream=True, timeout=10)
        assert answer.status_code == 200
        assert answer.headers.get("Transfer-Encoding") == "chunked"
        assert "Content-Length" not in answer.headers
        lines = [line for line in answer.iter_lines() if line]
    assert len(lines) == 2500


def test_a_job_with_a_lost_execution_can_still_be_replayed(
    admin_app: Flask, conns: Connections
) -> None:
    """A job whose execution record is gone (written on a primary since replaced) listed in
    its execution registry: replaying its event replaces it instead of raising ValueError."""
    _accept(conns, 1)
    event = events.load(conns.text, "userdb", "e-0")
    assert event is not None
    conns.raw.zadd(f"rq:executions:{event.job_id}", {"lost-execution": time.time() + 60})
    answer = admin_app.test_client().post(
        "/admin/replay", json={"reason": "after the failover", "event_id": "e-0"}, headers=AUTH
    )
    assert answer.status_code == 200, answer.get_data(as_text=True)
    (result,) = answer.get_json()["replayed"]
    assert result["job_id"] and result["job_id"] != event.job_id
