"""The only module that speaks RQ: the erasure queue, enqueue, job lookup and wake-ups.

Jobs use the JSON serializer and carry two primitive arguments, (source, event_id); every
other module sees them as QueuedJob values. The worker class (consumer/delivery/worker.py)
subclasses rq.Worker beside this module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import redis
from redis.client import Pipeline
from redis.exceptions import WatchError
from rq import Queue, Retry, Worker, get_current_job
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.executions import Execution
from rq.job import Job
from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry
from rq.serializers import JSONSerializer

from consumer.store import keys

# Other modules name the queue's type through this module, never through rq.
__all__ = ["Queue"]

JOB_FUNC = "consumer.delivery.jobs.deliver"
# Retries that RQ itself spends only when a worker dies mid-job (the job is "abandoned");
# every other retry is scheduled by the job with its own backoff policy.
CRASH_RETRIES = 5
# A finished job's hash and result are only RQ's bookkeeping (the event keeps the outcomes):
# an hour instead of RQ's day holds 24x fewer of them in a busy Redis.
RESULT_TTL = 3600
FAILURE_TTL = 30 * 86400


def erasure_queue(raw: redis.Redis) -> Queue:
    """The queue on a bytes connection, as RQ requires."""
    return Queue(keys.QUEUE, connection=raw, serializer=JSONSerializer)


def admin_queue(raw: redis.Redis) -> Queue:
    """The queue of long admin operations, which workers take before erasures."""
    return Queue(keys.ADMIN_QUEUE, connection=raw, serializer=JSONSerializer)


def enqueue_admin(queue: Queue, func: str, job_id: str, timeout: int) -> None:
    """Put one admin operation (func, called with job_id) on the admin queue; never retried:
    its record says how far it got."""
    queue.enqueue(
        func,
        job_id,
        job_id=job_id,
        job_timeout=timeout,
        result_ttl=RESULT_TTL,
        failure_ttl=FAILURE_TTL,
        description=f"admin {func.rsplit('.', 1)[-1]} {job_id}",
    )


def enqueue(
    queue: Queue,
    source: str,
    event_id: str,
    job_id: str,
    job_timeout: int,
    pipe: Pipeline | None = None,
    delay: float = 0.0,
    at_front: bool = False,
) -> None:
    """Put an erasure job for (source, event_id) on the queue, now or after delay seconds.

    at_front puts it ahead of the queued jobs (once its delay is over). With pipe, the job is
    written inside the caller's transaction (MULTI open). Without RQ's empty fields (_compact).
    """
    own = pipe is None
    writes = queue.connection.pipeline() if pipe is None else pipe
    options = {
        "job_id": job_id,
        "job_timeout": job_timeout,
        "result_ttl": RESULT_TTL,
        "failure_ttl": FAILURE_TTL,
        "retry": Retry(max=CRASH_RETRIES, enqueue_at_front=True),  # it already waited its turn
        "pipeline": writes,
        "description": f"erase {source}/{event_id}",
        "at_front": at_front,
    }
    if delay > 0:
        queue.enqueue_in(timedelta(seconds=delay), JOB_FUNC, source, event_id, **options)
    else:
        queue.enqueue(JOB_FUNC, source, event_id, **options)
    _compact(writes, job_key(job_id))
    if own:
        writes.execute()


def _compact(pipe: Pipeline, key: str) -> None:
    """Drop the empty fields (callbacks, worker, start and end times...) from the new job's HSET.

    RQ writes about eight of them, and reads a missing field as an empty one; a new job has
    no earlier hash whose values they would have to clear. Fewer fields, a smaller hash.
    """
    for i, (args, options) in enumerate(pipe.command_stack):
        if args[0] == "HSET" and args[1] == key:
            pairs = [(f, v) for f, v in zip(args[2::2], args[3::2], strict=True) if v != ""]
            pipe.command_stack[i] = ((*args[:2], *(w for p in pairs for w in p)), options)


@dataclass(frozen=True)
class QueuedJob:
    """A stored job as the rest of the package sees it: its id, event and RQ status."""

    id: str
    event: tuple[str, str] | None  # (source, event_id); None for a job that is not an erasure
    status: str  # RQ's: queued, scheduled, started, finished, failed, ...
    enqueued_at: float | None
    ended_at: float | None
    _job: Job = field(repr=False, compare=False)


def _queued(job: Job) -> QueuedJob:
    args, status = job.args, job.get_status(refresh=False)
    event = (str(args[0]), str(args[1])) if len(args) == 2 else None
    return QueuedJob(
        job.id,
        event,
        status.value if status else "",
        job.enqueued_at.timestamp() if job.enqueued_at else None,
        job.ended_at.timestamp() if job.ended_at else None,
        job,
    )


def fetch(queue: Queue, job_id: str) -> QueuedJob | None:
    """The job with this id, or None if it is gone."""
    try:
        job = Job.fetch(job_id, connection=queue.connection, serializer=JSONSerializer)
    except NoSuchJobError:
        return None
    return _queued(job)


def fetch_many(queue: Queue, job_ids: list[str]) -> list[QueuedJob]:
    """The jobs with these ids that still exist, in the order asked."""
    found = Job.fetch_many(job_ids, connection=queue.connection, serializer=JSONSerializer)
    return [_queued(job) for job in found if job is not None]


def job_key(job_id: str) -> str:
    """RQ's key of a job's hash: watch it to notice a worker taking the job."""
    return str(Job.key_for(job_id))


class JobGone(WatchError):
    """The job went between a caller's check and its delete: void the transaction, as a
    fired WATCH would (callers already handle that)."""


def delete(job: QueuedJob, pipe: Pipeline) -> None:
    """Delete a superseded job inside the caller's open transaction (MULTI), so it never runs
    beside its successor; raises JobGone if it is gone already."""
    _drop_dangling_executions(job._job)
    try:
        job._job.delete(pipeline=pipe)
    except InvalidJobOperation as e:  # RQ reads the stored status first: the hash is gone
        raise JobGone(job.id) from e


def _drop_dangling_executions(job: Job) -> None:
    """Forget executions of job whose record is gone, as RQ's delete raises ValueError on one.

    After a Sentinel failover a job's execution can be listed on the new primary while its
    record was written on the old one only; that job must still be replaceable by a replay.
    """
    registry = job.execution_registry
    for execution_id in registry.get_execution_ids():
        if not job.connection.exists(Execution(execution_id, job.id, job.connection).key):
            job.connection.zrem(registry.key, execution_id)


def failure_line(job: QueuedJob) -> str | None:
    """The last line of the exception RQ kept for a failed job (a timeout, a crash), if any."""
    result = job._job.latest_result()
    lines = (result.exc_string or "").strip().splitlines() if result is not None else []
    return lines[-1] if lines else None


def failed_ids(queue: Queue) -> list[str]:
    """The ids in the failed registry (requeueable jobs)."""
    return list(FailedJobRegistry(queue=queue).get_job_ids())


def is_failed(pipe: redis.Redis | Pipeline, queue: Queue, job_id: str) -> bool:
    """Whether job_id is still in the failed registry (read through pipe, e.g. while watching)."""
    return pipe.zscore(FailedJobRegistry(queue=queue).key, job_id) is not None


@dataclass(frozen=True)
class JobCounts:
    """How many jobs wait, run or failed, from the queue and RQ's registries."""

    queued: int  # ready to run
    scheduled: int  # waiting for a retry, a 429 hold, the rate limit or the auth pause
    running: int  # a worker runs them (or a killed worker left them, until recovery's retry)
    failed: int  # in the failed registry (requeueable)


def _scheduled(queue: Queue) -> ScheduledJobRegistry:
    return ScheduledJobRegistry(queue=queue)  # type: ignore[no-untyped-call]  # rq leaves its __init__ untyped


def job_counts(queue: Queue) -> JobCounts:
    """The queue's length and the sizes of its scheduled, started and failed registries."""
    return JobCounts(
        queued=len(queue),
        scheduled=_scheduled(queue).count,
        running=StartedJobRegistry(queue=queue).get_job_count(cleanup=False),
        failed=FailedJobRegistry(queue=queue).count,
    )


def oldest_queued_at(queue: Queue) -> float | None:
    """When the job at the head of the queue was enqueued (epoch seconds), None if empty."""
    head = fetch_many(queue, queue.get_job_ids(0, 1))
    return head[0].enqueued_at if head else None


def worker_names(queue: Queue) -> list[str]:
    """The names of the workers registered on the queue, sorted."""
    return sorted(w.name for w in Worker.all(queue=queue))


def current_job_id() -> str:
    """The id of the job this worker runs now ("" outside a job)."""
    job = get_current_job()
    return job.id if job is not None else ""


def no_crash_retries() -> None:
    """A terminal failure must stay failed: RQ's retries are for crashed workers only."""
    job = get_current_job()
    if job is not None:
        job.retries_left = 0


def keep_result_for(seconds: int) -> None:
    """Keep the current job's result this long instead of RESULT_TTL."""
    job = get_current_job()
    if job is not None:
        job.result_ttl = seconds


@dataclass(frozen=True)
class Resumed:
    """What resume() did: whether it lifted a pause, and the waiting jobs it queued."""

    lifted: bool
    woken: list[QueuedJob]


# KEYS: pause hash, waiting set, RQ scheduled registry. Lifts the pause (if set by ARGV[1],
# when given) and makes every job waiting for it due now, in one step: whatever happens
# next, no waiting job is left to sleep through a probe interval. Returns lifted, then ids.
_RESUME = """
if ARGV[1] ~= '' and redis.call('HGET', KEYS[1], 'by') ~= ARGV[1] then
  return {0}
end
local answer = {redis.call('DEL', KEYS[1])}
local now = tonumber(redis.call('TIME')[1])
for _, id in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  if redis.call('ZSCORE', KEYS[3], id) then
    redis.call('ZADD', KEYS[3], 'XX', now, id)
    table.insert(answer, id)
  end
end
redis.call('DEL', KEYS[2])
return answer
"""


def resume(queue: Queue, only_by: str | None = None) -> Resumed:
    """Lift the pause (only if set by only_by, when given) and queue the jobs waiting for it.

    The one way waiting jobs are woken, for the probe and the operator alike. Each job is
    then moved to the queue by RQ's own requeue, whose ZREM makes a worker's scheduler
    moving the same job at once the other winner, never a second run.
    """
    args = (keys.PAUSE, keys.WAITING, keys.RQ_SCHEDULED, only_by or "")
    lifted, *due = queue.connection.eval(_RESUME, 3, *args)
    registry = _scheduled(queue)
    woken = []
    for job in fetch_many(queue, [i.decode() if isinstance(i, bytes) else i for i in due]):
        try:
            registry.requeue(job._job, at_front=True)  # it waited its turn, as any retry
        except InvalidJobOperation:  # a scheduler moved it first: it runs anyway
            continue
        woken.append(job)
    return Resumed(bool(lifted), woken)
