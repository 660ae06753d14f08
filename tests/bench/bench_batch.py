"""How long one batched delivery (Okta-shaped) takes to verify, parse and store, by size.

Run: .venv/bin/python -m tests.bench.bench_batch  (starts its own redis-server)
Okta gives an event hook 3 s to answer, so a batch must be stored well within that.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from consumer.store.connection import connect
from consumer.web import create_app
from tests.helpers import SENDER_ENV, RedisServer, okta_body, okta_event, sender_settings


def main() -> None:
    """Print the median time to answer an Okta batch of 1, 10, 100 and 1000 deletions."""
    server = RedisServer(Path(tempfile.mkdtemp()) / "redis").start()
    try:
        conns = connect(server.url)
        client = create_app(sender_settings(), redis=conns).test_client()
        headers = {"Content-Type": "application/json", "Authorization": SENDER_ENV["OKTA_TOKEN"]}
        for size in (1, 10, 100, 1000):
            timings = []
            for round_ in range(5):
                body = okta_body(
                    *(okta_event(f"b{size}-{round_}-{i}", f"u{i}") for i in range(size))
                )
                started = time.perf_counter()
                answer = client.post("/webhooks/okta", data=body, headers=headers)
                timings.append(time.perf_counter() - started)
                assert answer.status_code == 202, answer.json
            median = statistics.median(timings)
            print(
                f"okta batch of {size:>4}: {median * 1000:8.1f} ms median "
                f"({median / size * 1e6:6.0f} us per event)"
            )
        conns.text.flushall()
    finally:
        server.stop()


if __name__ == "__main__":
    main()
