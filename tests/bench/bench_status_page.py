"""The status page's server time with many events stored (default 10,000), against the
`status` figures alone as the floor measured in the same run.

Run: .venv/bin/python -m tests.bench.bench_status_page [EVENTS]   (default 10,000)
Uses REDIS_URL if set (its data is flushed!), else starts a throwaway redis-server.
Half the events are delivered (an outcome each, spread over the chart's three hours), half
stay pending; ten alerts are listed too. The audit stream's ids are the times of writing, so
all the outcomes fall in the `status` figures' last hour: the worst case for that figure.
Timed through Flask's client: the figure is the page's own Server-Timing (view, templates,
Redis), median of the runs.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

from flask.testing import FlaskClient

from consumer.models import Event, Outcome
from consumer.ops import status as st
from consumer.store import outcomes
from consumer.store.connection import connect
from consumer.web import create_app
from consumer.web.page_views import ALERTS_RECENT
from consumer.web.state import state
from tests.helpers import ADMIN_TOKEN, RedisServer, accept_event, make_settings

RUNS = 20
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def fill(url: str, n: int, now: float) -> None:
    """n accepted events; every other one with a recorded outcome, spread over three hours."""
    conns = connect(url)
    conns.text.flushdb()
    for i in range(n):
        accept_event(conns, f"e-{i}", f"u-{i}", now - (n - i) * 0.5)
        if i % 2 == 0:
            event = Event("userdb", f"e-{i}", "contact.deleted", f"u-{i}", None, ("contacts",))
            done = Outcome("contacts", "deleted" if i % 4 else "not_mapped", f"r-{i}", 200)
            outcomes.record(conns.text, event, done, now - (n - i) * 1.0, per_record=True)
    for i in range(10):
        alert = {"ts": now - i, "kind": "paused", "state": "firing", "text": "x", "delivered": True}
        conns.text.lpush(ALERTS_RECENT, json.dumps(alert))


def server_ms(client: FlaskClient, path: str) -> float:
    """The median Server-Timing of RUNS GETs of path, in milliseconds."""
    times = []
    for _ in range(RUNS):
        answer = client.get(path)
        assert answer.status_code == 200, answer.status_code
        times.append(float(answer.headers["Server-Timing"].split("dur=")[1]))
    return statistics.median(times)


def run(url: str, n: int) -> None:
    """Fill, log in, time the page, a search and the floor; print the figures."""
    now = time.time()
    started = time.perf_counter()
    fill(url, n, now)
    print(f"filled {n} events in {time.perf_counter() - started:.1f} s")
    settings = make_settings(env={"REDIS_URL": url, "CONSUMER_ADMIN_TOKEN": ADMIN_TOKEN})
    app = create_app(settings)
    client = app.test_client()
    form = client.get("/admin/").text
    found = CSRF.search(form)
    assert found
    client.post("/admin/login", data={"token": ADMIN_TOKEN, "csrf_token": found[1]})
    page = server_ms(client, "/admin/")
    oldest = server_ms(client, "/admin/?external_id=u-0")
    day = server_ms(client, "/admin/?hours=24")
    with app.app_context():
        ops = state(app).ops()
        floor_times = []
        for _ in range(RUNS):
            t = time.perf_counter()
            st.status(ops)
            floor_times.append((time.perf_counter() - t) * 1000)
    floor = statistics.median(floor_times)
    print(f"floor: the status figures alone: {floor:.1f} ms")
    print(f"GET /admin/ ({n} events): {page:.1f} ms = {page / floor:.1f}x the floor")
    print(f"GET /admin/?hours=24: {day:.1f} ms = {day / floor:.1f}x the floor")
    print(
        f"GET /admin/?external_id=<the oldest>: {oldest:.1f} ms = {oldest / floor:.1f}x the floor"
    )


def main() -> None:
    """Print the page's server time with EVENTS events stored."""
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    url = os.environ.get("REDIS_URL")
    if url:
        run(url, n)
        return
    with tempfile.TemporaryDirectory() as tmp:
        server = RedisServer(Path(tmp)).start()
        try:
            run(server.url, n)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
