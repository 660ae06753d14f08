"""Crash recovery RQ leaves slow: a killed worker's running job, jobs it took but never
started, and the scheduler lock its scheduler still holds.

A running job's heartbeat (its score in the started registry) lapses job_heartbeat +
heartbeat_grace seconds after its worker's last beat. RQ retries it only in its registry
cleaning, which runs under a lock that a worker killed (or cut from Redis) mid-clean leaves
behind for up to CLEAN_LOCK_MAX_SECONDS: every worker's maintenance here retries it, at the
front of its queue, as soon as the heartbeat has lapsed, whoever holds that lock. Only a
lapsed heartbeat counts: a slow job whose worker lives keeps beating and is never re-run.
RQ moves a job from the queue to `<queue>:intermediate` before it registers it as started,
but only for a worker on one queue: ours listen on two, and TakingQueue does it for them (the
worker removes the entry in the transaction that marks the job started). A worker killed in
between strands the job for a minute (RQ's cleanup then fails it); with RQ's multi-queue pop
it was lost. RQ's
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
from collections.abc import Callable, Iterable, Sequence
from typing import Any, cast

import redis
from rq import Queue
from rq.exceptions import DequeueTimeout
from rq.intermediate_queue import IntermediateQueue
from rq.job import JobStatus
from rq.scheduler import SCHEDULER_KEY_TEMPLATE, RQScheduler
from rq.scripts import release_lock
from rq.utils import parse_composite_key, utcparse
from rq.worker import BaseWorker

from consumer.store.connection import as_text

STRANDED_SECONDS = 2.0  # a live worker moves a job on within milliseconds
TAKE_SLICE_SECONDS = 1  # an idle worker looks at its other queues this often
SCHEDULER_STALE_SECONDS = 10.0  # a live scheduler beats every second

# Back to the front of the queue if still stranded (no worker started it since) and not
# queued already (a crash retry of the same job); the entry goes, and RQ's first-seen stamp.
_REQUEUE = """
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 1 then
  redis.call('DEL', KEYS[3])
  if not redis.call('LPOS', KEYS[2], ARGV[1]) then
    redis.call('LPUSH', KEYS[2], ARGV[1])
    return 1
  end
end
return 0
"""
_SEEN: dict[tuple[str, str], float] = {}  # (queue, job id) -> when this process saw it stranded


class TakingQueue(Queue):
    """RQ's queue whose multi-queue pop moves each job to its queue's intermediate list.

    RQ does that (LMOVE) only for a worker on one queue; for several it pops (BLPOP), and a
    worker killed between the pop and the job's start leaves the job in no list at all.
    """

    @classmethod
    def lpop(
        cls, queue_keys: Sequence[str], timeout: int | None, connection: redis.Redis | None = None
    ) -> tuple[Any, Any] | None:
        """The first job of the first non-empty queue, moved to its intermediate list."""
        assert connection is not None
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            for key in queue_keys:
                if (job_id := connection.lmove(key, _taken(key))) is not None:
                    return key, job_id
            if deadline is None:
                return None
            if time.monotonic() >= deadline:
                raise DequeueTimeout(timeout, queue_keys)
            # Block on the last queue, a second at a time: the others are looked at again.
            last = queue_keys[-1]
            if (job_id := connection.blmove(last, _taken(last), TAKE_SLICE_SECONDS)) is not None:
                return last, job_id


def _taken(queue_key: str) -> str:
    return IntermediateQueue.get_intermediate_queue_key(queue_key)


# Claim one started entry whose heartbeat lapsed: the one caller it returns 1 to retries it.
# An entry of a job running again elsewhere (a live entry of the same job) is only dropped.
CLAIM = """
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score or tonumber(score) >= tonumber(ARGV[2]) then
  return 0
end
redis.call('ZREM', KEYS[1], ARGV[1])
for _, entry in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[2], '+inf')) do
  if string.sub(entry, 1, string.len(ARGV[3])) == ARGV[3] then
    return 0
  end
end
return 1
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
    entries = [as_text(e) for e in expired]
    if not entries:
        return 0
    claim = queue.connection.register_script(CLAIM)
    retried = 0
    for entry in entries:
        job_id = parse_composite_key(entry)[0]
        job = queue.fetch_job(job_id)
        if job is None or job.get_status(refresh=False) != JobStatus.STARTED:
            continue  # gone, over, or not started (its intermediate entry brings it back)
        if not job.retries_left or not claim(keys=[started.key], args=[entry, now, f"{job_id}:"]):
            continue  # no retry left, claimed by another worker, or running again elsewhere
        with queue.connection.pipeline() as pipe:
            job.retry(queue, pipe)  # at the front: the job carries enqueue_at_front
            pipe.execute()
        retried += 1
    return retried


def requeue_stranded(queue: Queue, now: float, seen: dict[tuple[str, str], float] = _SEEN) -> int:
    """Jobs taken from queue but not started, seen so for STRANDED_SECONDS: back in front.

    seen is this process's memory of when each was first seen stranded (RQ's first-seen
    keys outlive their entry, so a job taken again later would look stranded at once).
    """
    waiting = queue.intermediate_queue
    script = queue.connection.register_script(_REQUEUE)
    ids = waiting.get_job_ids()
    moved = 0
    for job_id in ids:
        keys = [waiting.key, queue.key, waiting.get_first_seen_key(job_id)]
        job = queue.fetch_job(job_id)
        if job is None or job.get_status(refresh=False) != JobStatus.QUEUED:
            _drop(queue.connection, keys, job_id)  # started (or over) before its entry went
            continue
        first = seen.setdefault((queue.name, job_id), now)
        if now - first >= STRANDED_SECONDS:
            moved += int(script(keys=keys, args=[job_id]))
            del seen[(queue.name, job_id)]
    for gone in [k for k in seen if k[0] == queue.name and k[1] not in ids]:
        del seen[gone]
    return moved


def _drop(connection: redis.Redis, keys: list[str], job_id: str) -> None:
    with connection.pipeline(transaction=False) as pipe:
        pipe.lrem(keys[0], 1, job_id)
        pipe.delete(keys[2])
        pipe.execute()


def release_dead_scheduler_lock(connection: redis.Redis, queue_name: str, now: float) -> int:
    """Release queue_name's scheduler lock if its holder stopped beating; 1 if released."""
    key = RQScheduler.get_locking_key(queue_name)
    holder = connection.get(key)
    if holder is None:
        return 0
    name = as_text(holder)
    host, pid, beat = connection.hmget(
        SCHEDULER_KEY_TEMPLATE % name, ["hostname", "pid", "last_heartbeat"]
    )
    alive = beat is not None and not _gone(as_text(host or b""), as_text(pid or b""))
    if alive and now - utcparse(as_text(beat or b"")).timestamp() < SCHEDULER_STALE_SECONDS:
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
