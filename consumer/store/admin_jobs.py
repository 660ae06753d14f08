"""The record of a long admin operation (a background replay): request, status, progress.

zc:admin-job:<id> is a hash (kind, status, filters, by, reason, counters, times);
zc:admin-job:<id>:results a list of the first per-event results as JSON. Both expire.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import redis
from redis.typing import EncodableT, FieldT

from consumer.store import keys

KEEP_SECONDS = 7 * 86400  # how long a job's record and results stay readable
RESULTS_KEPT = 1000  # per-event results kept (the counters cover every event)


def create(r: redis.Redis, job_id: str, record: Mapping[str, str | int | float]) -> None:
    """Store a new job's record."""
    with r.pipeline() as pipe:
        pipe.hset(keys.admin_job(job_id), mapping=_fields(record))
        pipe.expire(keys.admin_job(job_id), KEEP_SECONDS)
        pipe.execute()


def load(r: redis.Redis, job_id: str) -> dict[str, str]:
    """A job's record ({} when there is none)."""
    data: dict[str, str] = r.hgetall(keys.admin_job(job_id))  # type: ignore[assignment]
    return data


def mark(r: redis.Redis, job_id: str, **fields: str | int | float) -> None:
    """Set fields of a job's record (status, times)."""
    r.hset(keys.admin_job(job_id), mapping=_fields(fields))


def count(r: redis.Redis, job_id: str, result: Mapping[str, Any]) -> None:
    """One event's result: processed and replayed or skipped, and the result itself."""
    key, results = keys.admin_job(job_id), keys.admin_job_results(job_id)
    with r.pipeline() as pipe:
        pipe.hincrby(key, "processed", 1)
        pipe.hincrby(key, "skipped" if result.get("skipped") else "replayed", 1)
        pipe.rpush(results, json.dumps(dict(result)))
        pipe.ltrim(results, 0, RESULTS_KEPT - 1)
        pipe.expire(results, KEEP_SECONDS)
        pipe.execute()


def results(r: redis.Redis, job_id: str) -> list[dict[str, Any]]:
    """The kept per-event results, in order."""
    return [json.loads(x) for x in r.lrange(keys.admin_job_results(job_id), 0, -1)]


def _fields(values: Mapping[str, str | int | float]) -> dict[FieldT, EncodableT]:
    return dict(values.items())
