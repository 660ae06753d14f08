"""Crash recovery RQ leaves slow: a killed worker's running job, jobs it took but never
started, and the scheduler lock its scheduler still holds.

A running job's heartbeat (its score in the started registry) lapses job_heartbeat +
heartbeat_grace seconds after its worker's last beat. RQ retries it only in its registry
cleaning, which runs under a lock that a worker killed (or cut from Redis) mid-clean leaves
behind for up to CLEAN_LOCK_MAX_SECONDS: every worker's maintenance here retries it, at the
front of its queue, as soon as the heartbeat has lapsed, whoever holds that lock. Only a
lapsed heartbeat counts: a slow job whose worker lives keeps beating and is never re-run.
RQ moves a job from the queue to `<queue>:intermediate` before it registers it as started; a
worker killed in between strands it for a minute (RQ's cleanup then fails it). RQ's
scheduler lock lives `interval + 60` s after its holder dies, and no retry is enqueued
meanwhile. Each worker's maintenance calls recover(): a stranded job goes back to the front
of its queue once it has been seen there across STRANDED_SECONDS, and a lock whose
scheduler's heartbeat is SCHEDULER_STALE_SECONDS old (or whose process is gone, on this
host) is released for a live worker to take.
Both read only Redis, so they hold whether the worker forks a horse per job or not.
work_through_full_redis keeps a worker process alive through a full Redis (RQ quits on it).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import time
from collections.abc import Callable, Iterable
from typing import cast

import redis
from rq import Queue
from rq.job import JobStatus
from rq.scheduler import SCHEDULER_KEY_TEMPLATE, RQScheduler
from rq.scripts import release_lock
from rq.utils import parse_composite_key, utcparse
from rq.worker import BaseWorker

STRANDED_SECONDS = 2.0  # a live worker moves a job on within milliseconds
SCHEDULER_STALE_SECONDS = 10.0  # a live scheduler beats every second

# Back to the front of the queue only if it is still stranded (no worker started it since).
_REQUEUE = """
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 1 then
  redis.call('LPUSH', KEYS[2], ARGV[1])
  redis.call('DEL', KEYS[3])
  return 1
end
return 0
"""


# Claim one started entry whose heartbeat lapsed: the one caller it returns 1 to retries it.
_CLAIM = """
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if score and tonumber(score) < tonumber(ARGV[2]) then
  return redis.call('ZREM', KEYS[1], ARGV[1])
end
return 0
"""


def recover(connection: redis.Redis, queues: Iterable[Queue], now: float | None = None) -> int:
    """Retry abandoned jobs, requeue stranded ones, release dead schedulers' locks; how many."""
    at = time.time() if now is None else now
    fixed = 0
    for queue in queues:
        fixed += retry_abandoned(queue, at)
        fixed += requeue_stranded(queue, at)
        fixed += release_dead_scheduler_lock(connection, queue.name, at)
    return fixed


def retry_abandoned(queue: Queue, now: float) -> int:
    """Jobs whose heartbeat lapsed before now (their worker died): retried at the front.

    A job with no retry left is left to RQ's cleaning, which fails it.
    """
    started = queue.started_job_registry
    expired = cast("list[bytes]", queue.connection.zrangebyscore(started.key, 0, now))
    entries = [_text(e) for e in expired]
    if not entries:
        return 0
    claim = queue.connection.register_script(_CLAIM)
    retried = 0
    for entry in entries:
        job = queue.fetch_job(parse_composite_key(entry)[0])
        if job is None or job.get_status(refresh=False) != JobStatus.STARTED:
            continue  # gone or finished: RQ's cleaning drops the leftover entry
        if not job.retries_left or not claim(keys=[started.key], args=[entry, now]):
            continue  # no retry left, or another worker claimed it first
        with queue.connection.pipeline() as pipe:
            job.retry(queue, pipe)  # at the front: the job carries enqueue_at_front
            pipe.execute()
        retried += 1
    return retried


def requeue_stranded(queue: Queue, now: float) -> int:
    """Jobs taken from queue but never started, seen for STRANDED_SECONDS: back in front."""
    waiting = queue.intermediate_queue
    started = queue.started_job_registry
    script = queue.connection.register_script(_REQUEUE)
    moved = 0
    for job_id in waiting.get_job_ids():
        # First sight only starts the clock (the key is RQ's own, shared with its cleanup).
        if job_id in started or waiting.set_first_seen(job_id):
            continue
        seen = waiting.get_first_seen(job_id)
        if seen is None or now - seen.timestamp() < STRANDED_SECONDS:
            continue
        keys = [waiting.key, queue.key, waiting.get_first_seen_key(job_id)]
        moved += int(script(keys=keys, args=[job_id]))
    return moved


def release_dead_scheduler_lock(connection: redis.Redis, queue_name: str, now: float) -> int:
    """Release queue_name's scheduler lock if its holder stopped beating; 1 if released."""
    key = RQScheduler.get_locking_key(queue_name)
    holder = connection.get(key)
    if holder is None:
        return 0
    name = _text(holder)
    host, pid, beat = connection.hmget(
        SCHEDULER_KEY_TEMPLATE % name, ["hostname", "pid", "last_heartbeat"]
    )
    alive = beat is not None and not _gone(_text(host), _text(pid))
    if alive and now - utcparse(_text(beat)).timestamp() < SCHEDULER_STALE_SECONDS:
        return 0
    return int(release_lock(connection, key, name))


def _gone(host: str, pid: str) -> bool:
    """Whether the scheduler ran on this host as a process that no longer exists."""
    if host != socket.gethostname() or not pid.isdigit() or int(pid) <= 0:
        return False
    with contextlib.suppress(PermissionError):  # someone else's process: it exists
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return True
    return False


def _text(value: bytes | str | None) -> str:
    return value.decode() if isinstance(value, bytes) else str(value or "")


def is_full(connection: redis.Redis) -> bool:
    """Whether Redis refuses writes for memory (used_memory past a maxmemory that is set)."""
    try:
        memory = connection.info("memory")
    except redis.exceptions.RedisError:
        return False
    limit = int(memory.get("maxmemory") or 0)
    return bool(limit) and int(memory.get("used_memory") or 0) >= limit


def work_through_full_redis(make: Callable[[], BaseWorker], r: redis.Redis, *, burst: bool) -> None:
    """Run a worker from make() until asked to stop, a fresh one after Redis was full.

    RQ's loop quits on any Redis error but a timeout, a full Redis (OOM) among them: this
    waits until writes are accepted again and starts another worker. An unreachable Redis
    still ends it (the caller reports it).
    """
    parent, stopping = os.getpid(), []
    while True:
        worker = make()
        with contextlib.suppress(redis.exceptions.OutOfMemoryError):
            worker.work(burst=burst, with_scheduler=True, logging_level="INFO")
        if os.getpid() != parent:  # a work horse the error escaped from: it only ends
            os._exit(1)
        # RQ notes a SIGINT/SIGTERM there (idle, it leaves _stop_requested unset).
        if burst or worker._stop_requested or worker._shutdown_requested_date is not None:
            return
        for sig in (signal.SIGINT, signal.SIGTERM):  # RQ's handlers belong to the old worker
            signal.signal(sig, lambda signum, frame: stopping.append(signum))
        deadline = time.monotonic() + 1.0  # at least a second between two workers
        while not stopping and (is_full(r) or time.monotonic() < deadline):
            time.sleep(0.1)
        if stopping:
            return
