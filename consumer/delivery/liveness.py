"""Where an erasure job is alive in RQ: the reads behind the orphan sweep's "nowhere".

A job is alive while it waits in the queue or in RQ's intermediate queue (taken, not yet
started), is scheduled (a retry, a pause, the rate limit) or deferred, is failed (visible:
requeueing it is an operator's call), or is being run: in the started registry, in a
worker's executions, or beating (its hash's last_heartbeat, or an execution hash, which RQ's
heartbeat writes back even when a failover lost the run's registry entries). The queue is
read from its head, QUEUE_READ jobs: a job further back is "unknown", never taken for lost.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import redis
from redis.client import Pipeline
from rq.defaults import RQ_KEY_PREFIX
from rq.executions import WORKER_EXECUTIONS_KEY_TEMPLATE
from rq.utils import utcparse
from rq.worker_registration import WORKERS_BY_QUEUE_KEY

from consumer.queue import Queue, job_key
from consumer.store.connection import as_text

_READS = 5  # replies of _read_places per job
# Jobs of the queue read, from its head: the oldest jobs wait there (RQ appends, workers take
# from the front), so an idle event's job is among them. One LRANGE instead of an LPOS per job,
# which cost 170 ms in one MULTI for 200 jobs halfway down a queue of 100,000.
QUEUE_READ = 10_000


class Verdict(StrEnum):
    """Where one event's job was found."""

    MOVED = "moved"  # the event's state changed since the caller read it: look again later
    ALIVE = "alive"  # in a queue or a registry, or in a worker's executions
    BEATING = "beating"  # in none of them, but its heartbeat is fresh: being run
    UNKNOWN = "unknown"  # in none of them, but the queue is longer than QUEUE_READ
    UNREADABLE = "unreadable"  # the event's or the job's key holds another type
    NOWHERE = "nowhere"


@dataclass(frozen=True)
class Wanted:
    """One event's job to look for: the event's hash key and its [status, job_id] as read."""

    event_key: str
    status: str
    job_id: str


def where(
    raw: redis.Redis, queue: Queue, wanted: list[Wanted], now: float, fresh: float
) -> list[Verdict]:
    """Where each wanted job is, all read in one MULTI (a job RQ moves in one step is seen
    on one side); a heartbeat younger than fresh seconds counts as being run."""
    if not wanted:
        return []
    workers = [as_text(w) for w in raw.smembers(WORKERS_BY_QUEUE_KEY % queue.name)]
    with raw.pipeline(transaction=True) as pipe:
        pipe.zrange(queue.started_job_registry.key, 0, -1)  # members: <job id>:<execution id>
        pipe.lrange(queue.intermediate_queue_key, 0, -1)
        pipe.llen(queue.key)
        pipe.lrange(queue.key, 0, QUEUE_READ - 1)
        for name in workers:
            pipe.smembers(WORKER_EXECUTIONS_KEY_TEMPLATE.format(name))
        for w in wanted:
            _read_places(pipe, queue, w)
        # A job or event key of another type spoils only its own verdict (UNREADABLE).
        started, waiting, length, queued, *rest = pipe.execute(raise_on_error=False)
    for reply in (started, waiting, length, queued, *rest[: len(workers)]):
        if isinstance(reply, Exception):
            raise reply  # RQ's own keys are unreadable: RQ fails too, the sweep waits
    taken = {as_text(m).partition(":")[0] for m in started} | {as_text(j) for j in waiting}
    taken |= {as_text(j) for j in queued}
    whole = int(length) <= QUEUE_READ
    for members in rest[: len(workers)]:
        taken |= {as_text(m).partition(":")[0] for m in members}
    per = rest[len(workers) :]
    return [
        _verdict(w, taken, per[i * _READS : (i + 1) * _READS], now, fresh, whole)
        for i, w in enumerate(wanted)
    ]


def _read_places(pipe: Pipeline, queue: Queue, w: Wanted) -> None:
    """Queue the reads for one job: the event's state, the job's last beat, and its scores in
    the scheduled, deferred and failed registries."""
    pipe.hmget(w.event_key, ["status", "job_id"])
    pipe.hget(job_key(w.job_id), "last_heartbeat")
    pipe.zscore(queue.scheduled_job_registry.key, w.job_id)
    pipe.zscore(queue.deferred_job_registry.key, w.job_id)
    pipe.zscore(queue.failed_job_registry.key, w.job_id)


def _verdict(
    w: Wanted, taken: set[str], replies: list[object], now: float, fresh: float, whole: bool
) -> Verdict:
    if any(isinstance(r, Exception) for r in replies):
        return Verdict.UNREADABLE
    state, beat, *places = replies
    if [as_text(v) for v in state] != [w.status, w.job_id]:  # type: ignore[attr-defined]
        return Verdict.MOVED
    if w.job_id in taken or any(p is not None for p in places):  # a score of 0 too
        return Verdict.ALIVE
    if isinstance(beat, bytes | str) and now - _beat_time(beat) < fresh:
        return Verdict.BEATING
    return Verdict.NOWHERE if whole else Verdict.UNKNOWN


def _beat_time(value: bytes | str) -> float:
    """A job's last_heartbeat as epoch seconds (0 if unreadable: no sign of life)."""
    try:
        return utcparse(as_text(value)).timestamp()
    except ValueError:
        return 0.0


def executed_job_ids(raw: redis.Redis) -> set[str]:
    """Job ids with an execution hash: runs that beat within its TTL. A full SCAN, for the
    rare sweep that found an orphan: a run whose start a failover lost shows only here."""
    prefix = f"{RQ_KEY_PREFIX}:execution:"
    found = set()
    for key in raw.scan_iter(match=f"{prefix}*", count=1000, _type="hash"):
        found.add(as_text(key)[len(prefix) :].partition(":")[0])
    return found
