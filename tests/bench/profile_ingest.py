"""The webhook's CPU in-process: each app's WSGI callable called directly, a real redis-server.

    .venv/bin/python -m tests.bench.profile_ingest [--events 2000] [--rounds 3] [--profile 1]

Ours (consumer.web:create_app()), the floor and the naive peer (tests/bench/peers.py) each get
the same distinct, validly signed userdb events, with logging at INFO to a discarded stream as
under gunicorn. It prints each app's CPU (process_time) per webhook, the best of the rounds,
and the Redis time of ours' intake script per call (INFO commandstats); with --profile 1,
a cProfile of ours in CPU time (the 30 functions with the most time of their own). gunicorn
and HTTP parsing are not in it (bench_ingest measures those): this is each app's Python.
"""

from __future__ import annotations

import cProfile
import io
import logging
import os
import pstats
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import redis

from consumer.sources.hmac_sha256 import sign
from tests.bench import options
from tests.helpers import HMAC_SECRET, RedisServer, cli_env, userdb_body, write_config

Wsgi = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def _environ(body: bytes, signature: str) -> dict[str, Any]:
    """A POST /webhooks/userdb as gunicorn hands it to the app."""
    return {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/webhooks/userdb",
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_X_SIGNATURE": signature,
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "wsgi.errors": io.StringIO(),
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }


def _events(n: int, tag: str) -> list[tuple[bytes, str]]:
    out = []
    for i in range(n):
        body = userdb_body(f"{tag}-{i:07d}", f"user-{i:07d}")
        out.append((body, sign(HMAC_SECRET, body)))
    return out


def _drive(app: Wsgi, events: list[tuple[bytes, str]]) -> float:
    """CPU seconds per webhook over events; every answer must be a 2xx."""
    statuses: list[str] = []

    def start_response(status: str, headers: Any, exc_info: Any = None) -> None:
        statuses.append(status)

    environs = [_environ(body, signature) for body, signature in events]
    started = time.process_time()
    for environ in environs:
        b"".join(app(environ, start_response))
    spent = time.process_time() - started
    bad = [s for s in statuses if not s.startswith("2")]
    assert not bad, f"{len(bad)} answers not 2xx, e.g. {bad[0]}"
    return spent / len(events)


def _apps() -> dict[str, Wsgi]:
    from consumer.web import create_app
    from tests.bench.peers import floor_app, naive_app

    return {"floor": floor_app(), "naive": naive_app(), "ours": create_app()}


def _compare(r: redis.Redis, apps: dict[str, Wsgi], events: int, rounds: int) -> None:
    """Each app's best CPU per webhook over rounds, interleaved; then ours' script in Redis."""
    best: dict[str, float] = {}
    for k in range(rounds):
        for name, app in apps.items():
            r.flushall()
            spent = _drive(app, _events(events, f"{name}-{k}"))
            best[name] = min(best.get(name, spent), spent)
    for name, spent in best.items():
        print(f"  {name:6} {spent * 1e6:7.0f} us CPU per webhook (best of {rounds})")
    r.flushall()
    r.config_resetstat()
    _drive(apps["ours"], _events(events, "redis"))
    stats = r.info("commandstats").get("cmdstat_evalsha", {})
    print(f"  redis: ours' intake script {stats.get('usec_per_call')} us per webhook")


def main() -> None:
    """Print each app's CPU per webhook, and with --profile 1 ours' cProfile."""
    args = options(__doc__, events=2000, rounds=3, profile=0)
    logging.basicConfig(level=logging.INFO, stream=open(os.devnull, "w"))  # noqa: SIM115
    with tempfile.TemporaryDirectory() as tmp:
        server = RedisServer(Path(tmp) / "redis").start()
        config = write_config(Path(tmp) / "consumer.toml")
        os.environ.update(cli_env(config, "http://127.0.0.1:9/v2", server.url))
        try:
            r = redis.Redis.from_url(server.url)
            apps = _apps()
            _compare(r, apps, args.events, args.rounds)
            if args.profile:
                r.flushall()
                profiler = cProfile.Profile(time.process_time)  # CPU, not waits on Redis
                profiler.runcall(_drive, apps["ours"], _events(args.events, "profiled"))
                pstats.Stats(profiler).sort_stats("tottime").print_stats(30)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
