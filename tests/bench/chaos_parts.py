"""The parts a chaos run is made of: a killable Redis and web process, retrying senders, and
what a killed worker was holding (to time its recovery).
"""

from __future__ import annotations

import collections
import contextlib
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import redis
import requests
from rq import Worker

from consumer import queue as jobs
from consumer.devtools import runner
from consumer.queue import erasure_queue
from consumer.settings import Settings
from tests.helpers import HMAC_SECRET, free_port, signed, userdb_body
from tests.workers import kill_tree


class Redis:
    """The embedded-style redis-server, killable with SIGKILL and restartable on its dir."""

    def __init__(self, directory: Path, *extra: str) -> None:
        self.directory = directory
        self.extra = extra
        self.sup = runner.Supervisor()
        self.url = self._start()

    def _start(self) -> str:
        url = runner.start_redis(self.sup, self.directory)
        if self.extra:  # e.g. appendfsync everysec, set at once on the running server
            client = redis.Redis.from_url(url)
            client.config_set(*self.extra)
            client.close()
        return url

    def kill(self) -> None:
        """SIGKILL the server (no shutdown, no final fsync)."""
        proc = self.sup.children[-1].proc
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

    def restart(self) -> None:
        """Start it again on its directory (it loads its AOF)."""
        self.sup = runner.Supervisor()
        assert self._start() == self.url


class Web:
    """`zeeg-consumer web` (gunicorn) on a free loopback port, killable and restartable."""

    def __init__(self, directory: Path, env: dict[str, str], processes: int = 2) -> None:
        self.directory, self.env, self.processes = directory, env, processes
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        """Start gunicorn (senders meanwhile get refused connections, and retry)."""
        argv = [sys.executable, "-m", "consumer", "web", "--host", "127.0.0.1"]
        argv += ["--port", str(self.port), "--workers", str(self.processes)]
        log = (self.directory / f"web-{self.starts}.log").open("wb")
        self.proc = subprocess.Popen(
            argv, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        self.starts += 1

    def kill(self) -> None:
        """SIGKILL gunicorn's master and its workers at once."""
        if self.proc is not None:
            kill_tree(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL what is left after 10 s."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


class Senders:
    """Threads that POST signed webhooks at a fixed pace and retry any non-2xx, as senders do."""

    def __init__(self, url: str, settings: Settings, events: int, seconds: float, seed: int):
        self.url, self.settings = url, settings
        self.events, self.seconds = events, seconds
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.next = 0
        self.acked: list[str] = []
        self.answers: collections.Counter[str] = collections.Counter()
        self.retries = self.duplicates = 0
        self.give_up_after = 180.0

    def run(self, threads: int = 8) -> None:
        """Send every event (evt-i for u-i), each retried until a 2xx or give_up_after."""
        started = time.monotonic()
        workers = [threading.Thread(target=self._loop, args=(started,)) for _ in range(threads)]
        for t in workers:
            t.start()
        for t in workers:
            t.join()

    def _loop(self, started: float) -> None:
        while True:
            with self.lock:
                i, self.next = self.next, self.next + 1
                pause = self.rng.uniform(0.1, 0.5)
            if i >= self.events:
                return
            time.sleep(max(0.0, started + i * self.seconds / self.events - time.monotonic()))
            self._send(i, pause)

    def _send(self, i: int, pause: float) -> None:
        body = userdb_body(f"evt-{i}", f"u-{i}")
        deadline = time.monotonic() + self.give_up_after
        while time.monotonic() < deadline:
            headers = signed(self.settings, "userdb", body, f"msg-{i}")
            try:
                answer = requests.post(
                    f"{self.url}/webhooks/userdb", data=body, headers=headers, timeout=5
                )
                code = str(answer.status_code)
            except requests.RequestException as e:
                answer, code = None, type(e).__name__
            with self.lock:
                self.answers[code] += 1
                if answer is not None and answer.status_code in (200, 202):
                    self.acked.append(f"evt-{i}")
                    self.duplicates += answer.status_code == 200
                    return
                self.retries += 1
            time.sleep(pause)


def web_env(env: dict[str, str]) -> dict[str, str]:
    """The workers' environment with the userdb secret, for the web processes."""
    return {**env, "USERDB_SECRET": HMAC_SECRET}


def held_by(raw: redis.Redis, pid: int) -> list[tuple[str, str]]:
    """(source, event_id) of the job the RQ worker with this pid is running, if any."""
    queue = erasure_queue(raw)
    try:
        for worker in Worker.all(connection=raw):
            if worker.pid == pid and (job_id := worker.get_current_job_id()):
                found = jobs.fetch(queue, job_id)
                return [found.event] if found and found.event else []
    except redis.exceptions.RedisError:
        pass
    return []


def stranded(raw: redis.Redis) -> list[tuple[str, str]]:
    """(source, event_id) of jobs taken from the queue that no worker has started (queued)."""
    queue = erasure_queue(raw)
    try:
        taken = jobs.fetch_many(queue, queue.intermediate_queue.get_job_ids())
        return [q.event for q in taken if q.event and q.status == "queued"]
    except redis.exceptions.RedisError:
        return []


class Overdue(threading.Thread):
    """Samples, every 0.5 s, how late the oldest due scheduled job (a retry) is, and who holds
    the scheduler lock then: the wait of retries on a (dead) worker's scheduler."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.raw = redis.Redis.from_url(url, socket_timeout=2)
        self.stopping = threading.Event()
        self.worst: tuple[float, str] = (0.0, "")

    def run(self) -> None:
        """Sample until stop()."""
        while not self.stopping.wait(0.5):
            with contextlib.suppress(redis.exceptions.RedisError):
                self._sample(time.time())

    def _sample(self, now: float) -> None:
        due = self.raw.zrangebyscore("rq:scheduled:zc-erasure", 0, now, 0, 1, withscores=True)
        if not due or now - due[0][1] <= self.worst[0]:
            return
        holder = self.raw.get("rq:scheduler-lock:zc-erasure")
        beat = (
            self.raw.hget(f"rq:scheduler:{holder.decode()}", "last_heartbeat") if holder else None
        )
        state = f"lock {holder!r}, its last beat {beat!r}, at {time.strftime('%T')}"
        self.worst = (now - due[0][1], state)

    def stop(self) -> dict[str, Any]:
        """Stop sampling; the worst lateness seen (s) and the scheduler lock then."""
        self.stopping.set()
        self.join(5)
        return {"max late (s)": round(self.worst[0], 1), "then": self.worst[1]}


def percentile(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank) of values; 0 for none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def describe(values: list[float]) -> dict[str, Any]:
    """n, p50, p99 and max of a list of seconds, rounded."""
    return {
        "n": len(values),
        "p50": round(percentile(values, 50), 2),
        "p99": round(percentile(values, 99), 2),
        "max": round(max(values, default=0.0), 2),
    }


@contextlib.contextmanager
def quiet_redis(directory: str) -> Iterator[None]:
    """Send what the redis-servers print (they inherit stdout) to a file while they run."""
    saved = os.dup(1)
    with open(os.path.join(directory, "redis.log"), "wb") as log:
        os.dup2(log.fileno(), 1)
        try:
            yield
        finally:
            os.dup2(saved, 1)
            os.close(saved)


def quiet(check: Any) -> Any:
    """check(), counting a Redis hiccup as not yet."""

    def wrapped() -> bool:
        try:
            return bool(check())
        except redis.exceptions.RedisError:
            return False

    return wrapped
