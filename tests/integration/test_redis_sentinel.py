"""Redis through Sentinel: a real primary, replica and Sentinel, and a failover under load.

The app (clients from store.connection.connect, settings from REDIS_SENTINELS) serves over
HTTP and a real worker runs the jobs; `SENTINEL FAILOVER` moves the primary mid-stream.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import requests

from consumer.delivery import orphans
from consumer.devtools.sandbox import Sandbox
from consumer.models import Mapping
from consumer.settings import Settings
from consumer.store import events, mappings
from consumer.store.connection import connect
from consumer.web import create_app
from tests.helpers import RedisServer, deletes, free_port, make_settings, serve, signed, userdb_body
from tests.workers import Workers, wait_until

MASTER = "zc"
RECOVERY_SECONDS = 15
ORPHAN_AFTER = 2.0  # the workers' orphan_after_seconds (120 s by default)


class Topology:
    """A primary, its replica and one Sentinel watching them (down after 1 s)."""

    def __init__(self, directory: Path) -> None:
        # No 5 s wait for more replicas before a diskless full sync (the default delay).
        self.primary = RedisServer(directory / "primary", "--repl-diskless-sync-delay", "0").start()
        self.replica = RedisServer(
            directory / "replica", "--replicaof", "127.0.0.1", str(self.primary.port)
        ).start()
        self.port = free_port()
        self.directory = directory / "sentinel"
        self.proc: subprocess.Popen[bytes] | None = None

    def start_sentinel(self) -> Topology:
        """Start the Sentinel once the replica is in sync, and wait until it sees it."""
        wait_until(lambda: self._link_up(), 10, "the replica to sync")
        self.directory.mkdir(parents=True)
        conf = self.directory / "sentinel.conf"
        conf.write_text(
            f"port {self.port}\nbind 127.0.0.1\ndir {self.directory}\n"
            f"sentinel monitor {MASTER} 127.0.0.1 {self.primary.port} 1\n"
            f"sentinel down-after-milliseconds {MASTER} 1000\n"
            f"sentinel failover-timeout {MASTER} 10000\n"
            # Known from the start: else found at the Sentinel's first INFO of the primary.
            f"sentinel known-replica {MASTER} 127.0.0.1 {self.replica.port}\n"
        )
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed (make test installs it)"
        self.proc = subprocess.Popen([binary, str(conf), "--sentinel"], stdout=subprocess.DEVNULL)
        wait_until(self._sees_replica, 15, "the Sentinel to see the replica")
        return self

    def sentinel(self) -> redis.Redis:
        return redis.Redis(port=self.port, decode_responses=True, socket_timeout=2)

    def master_port(self) -> int:
        _, port = self.sentinel().sentinel_get_master_addr_by_name(MASTER)
        return int(port)

    def _link_up(self) -> bool:
        info = redis.Redis(port=self.replica.port).info("replication")
        return info.get("master_link_status") == "up"

    def _sees_replica(self) -> bool:
        try:
            replicas: list[dict[str, Any]] = self.sentinel().sentinel_slaves(MASTER)
        except redis.exceptions.RedisError:
            return False
        return any(r["port"] == self.replica.port and not r["is_sdown"] for r in replicas)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
        self.replica.stop()
        self.primary.stop()


@pytest.fixture
def topology(tmp_path: Path) -> Iterator[Topology]:
    servers = Topology(tmp_path)
    try:
        yield servers.start_sentinel()
    finally:
        servers.stop()


class Sender:
    """Posts signed webhooks one after another over HTTP, noting each answer and its time."""

    def __init__(self, url: str, settings: Settings) -> None:
        self.url, self.settings = url, settings
        self.answers: list[tuple[float, str, int]] = []  # (time, event id, status; 0: no answer)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        n = 0
        while not self.stopping.is_set():
            event_id, body = f"evt-{n}", userdb_body(f"evt-{n}", f"u-{n}")
            headers = signed(self.settings, "userdb", body)
            try:
                status = requests.post(
                    f"{self.url}/webhooks/userdb", data=body, headers=headers, timeout=8
                ).status_code
            except requests.RequestException:
                status = 0
            self.answers.append((time.monotonic(), event_id, status))
            n += 1 if status == 202 else 0  # a refused event is sent again, as a sender would
            time.sleep(0.02)

    def accepted(self, after: float = 0.0) -> list[str]:
        return [e for t, e, status in self.answers if status == 202 and t > after]


def test_webhooks_are_accepted_again_after_a_failover_and_none_is_lost(
    topology: Topology, sandbox: Sandbox, tmp_path: Path
) -> None:
    """Within 15 s of SENTINEL FAILOVER webhooks get 202 again, every one acknowledged runs."""
    env = {"REDIS_SENTINELS": f"127.0.0.1:{topology.port}", "REDIS_SENTINEL_MASTER": MASTER}
    settings = make_settings(sandbox.url, env=env)
    assert settings.redis_sentinel is not None and settings.redis_url is None
    rids = _seed_mappings(connect(None, settings.redis_sentinel).text, sandbox, 150)
    # A job taken at the promotion instant can be in no queue or registry on the new primary:
    # the workers' orphan sweep re-enqueues it ORPHAN_AFTER s after its event last moved.
    workers = Workers(tmp_path, "unused", sandbox, delivery={"orphan_after_seconds": ORPHAN_AFTER})
    del workers.env["REDIS_URL"]  # the worker finds Redis through the Sentinel too
    workers.env.update(env)
    workers.start(1)
    try:
        recovered, accepted = _failover_under_load(topology, settings)
        print(f"\nfailover: 202 again {recovered:.2f} s after it; {len(accepted)} accepted")
        assert topology.master_port() == topology.replica.port
        assert recovered <= RECOVERY_SECONDS
        conns = connect(None, settings.redis_sentinel)
        new = conns.text
        lost = [e for e in accepted if events.load(new, "userdb", e) is None]
        assert lost == [], f"acknowledged, then lost with the old primary: {lost}"
        wait_until(lambda: _all_done(new, accepted), 20, "every accepted event done, unaided")
        swept = _swept(new, accepted)
        print(f"failover: {len(swept)} orphaned job(s) re-enqueued by the sweep: {swept}")
    finally:
        workers.stop()
    # A warm shutdown through Sentinel connections ends cleanly (exit 0, no traceback).
    assert [p.returncode for p in workers.procs] == [0], workers.logs()[-3000:]
    deleted = {r["path"].rsplit("/", 1)[-1] for r in deletes(sandbox, 200)}
    assert {rids[int(e.split("-")[1])] for e in accepted} <= deleted


def _seed_mappings(text: redis.Redis, sandbox: Sandbox, n: int) -> list[str]:
    """n sandbox contacts mapped from u-0..u-(n-1), replicated before the failover."""
    rids = sandbox.state.seed("contacts", [{} for _ in range(n)])
    for i, rid in enumerate(rids):
        mappings.put(text, Mapping("userdb", "contacts", f"u-{i}", rid, 1.0))
    assert text.wait(1, 5000) == 1  # on the replica before it is promoted
    return rids


def _failover_under_load(topology: Topology, settings: Settings) -> tuple[float, list[str]]:
    """SENTINEL FAILOVER while webhooks stream in over HTTP; (seconds to 202 again, accepted)."""
    with serve(create_app(settings)) as url:  # its clients come from connect(): Sentinel
        sender = Sender(url, settings)
        sender.thread.start()
        wait_until(lambda: len(sender.accepted()) >= 10, 20, "webhooks before the failover")
        old = topology.master_port()
        started = time.monotonic()
        topology.sentinel().execute_command("SENTINEL", "FAILOVER", MASTER)
        wait_until(lambda: topology.master_port() != old, RECOVERY_SECONDS, "a new primary")
        moved = time.monotonic()
        wait_until(lambda: len(sender.accepted(after=moved)) >= 5, RECOVERY_SECONDS, "202s")
        sender.stopping.set()
        sender.thread.join(10)
    return _recovery_seconds(sender.answers, started), sender.accepted()


def _swept(text: redis.Redis, accepted: list[str]) -> list[str]:
    """The accepted events the orphan sweep re-enqueued (their trail says so)."""
    return [
        e
        for e in accepted
        if any(t.get("by") == orphans.BY for t in events.trail(text, "userdb", e))
    ]


def _all_done(text: redis.Redis, accepted: list[str]) -> bool:
    found = [events.load(text, "userdb", e) for e in accepted]
    return all(e is not None and e.status == "done" for e in found)


def _recovery_seconds(answers: list[tuple[float, str, int]], started: float) -> float:
    """From the failover to the first 202 after the last refused webhook (0 if none was)."""
    refused = [t for t, _, status in answers if t > started and status != 202]
    if not refused:
        return 0.0
    after = [t for t, _, status in answers if t > refused[-1] and status == 202]
    return after[0] - started
