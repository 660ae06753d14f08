"""Long admin operations as jobs the workers run: a large replay, with progress and result.

POST /admin/replay over more than SYNC_LIMIT events (or with "background": true) stores the
request under zc:admin-job:<id>, puts one job on the zc-admin queue (workers take it before
erasures) and answers 202 with the status URL; GET /admin/jobs/<id> shows its progress. The
request itself never waits for the replay, so no proxy or web timeout can cut it short.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
import uuid
from typing import Any

from consumer.errors import NotFound
from consumer.ops import Ops, iso
from consumer.ops import replay as rp
from consumer.ops.events import Filters
from consumer.queue import admin_queue, enqueue_admin, failure_line, fetch
from consumer.settings import load_settings
from consumer.store import admin_jobs
from consumer.store.connection import connect

SYNC_LIMIT = 100  # replays of up to this many events are answered at once (200), as before
FUNC = "consumer.ops.background.run_replay"
TIMEOUT_SECONDS = 3600  # RQ job_timeout: a replay enqueues, it never waits on Zeeg
JOB_ID = re.compile(r"^[0-9a-f]{32}$")
ENDED = ("failed", "stopped", "canceled")


def start_replay(ops: Ops, f: Filters, *, by: str, reason: str, selected: int) -> dict[str, Any]:
    """Record a replay of the events f selects and queue it; the 202 answer."""
    job_id = uuid.uuid4().hex
    record: dict[str, str | int | float] = {
        "kind": "replay",
        "status": "queued",
        "filters": json.dumps(dataclasses.asdict(f)),
        "by": by,
        "reason": reason,
        "selected": selected,
        "processed": 0,
        "replayed": 0,
        "skipped": 0,
        "created_at": ops.clock(),
    }
    admin_jobs.create(ops.r, job_id, record)
    enqueue_admin(admin_queue(ops.conns.raw), FUNC, job_id, TIMEOUT_SECONDS)
    url = f"/admin/jobs/{job_id}"
    return {"job_id": job_id, "status": "queued", "selected": selected, "status_url": url}


def execute_replay(ops: Ops, job_id: str) -> dict[str, Any]:
    """Run a recorded replay, counting each event as it goes; its final status."""
    data = admin_jobs.load(ops.r, job_id)
    if not data:
        raise NotFound(f"no admin job {job_id}")
    selected = rp.select(ops, _filters(data["filters"]))  # events may have moved on since
    admin_jobs.mark(ops.r, job_id, status="running", started_at=ops.clock(), selected=len(selected))
    for result in rp.replay(ops, selected, by=data["by"], reason=data["reason"]):
        admin_jobs.count(ops.r, job_id, result)
    admin_jobs.mark(ops.r, job_id, status="done", finished_at=ops.clock())
    return status(ops, job_id)


def _filters(text: str) -> Filters:
    """The stored filters (the dataclass as JSON: its tuples became lists)."""
    stored = json.loads(text)
    values: dict[str, Any] = {
        f.name: tuple(v) if isinstance(v := stored.get(f.name), list) else v
        for f in dataclasses.fields(Filters)
    }
    return Filters(**values)


def status(ops: Ops, job_id: str) -> dict[str, Any]:
    """What GET /admin/jobs/<id> shows: status, progress, who and why, and the results."""
    data = admin_jobs.load(ops.r, job_id) if JOB_ID.match(job_id) else {}
    if not data:
        raise NotFound(f"no admin job {job_id}")
    state, error = data["status"], None
    if state in ("queued", "running"):
        # A worker killed mid-job leaves the record as it was: RQ knows the job ended.
        job = fetch(admin_queue(ops.conns.raw), job_id)
        if job is None or job.status in ENDED:
            state, error = "failed", (failure_line(job) if job else None) or "the job is gone"
    return {
        "job_id": job_id,
        "kind": data["kind"],
        "status": state,
        "error": error,
        "by": data["by"],
        "reason": data["reason"],
        **{n: int(data.get(n) or 0) for n in ("selected", "processed", "replayed", "skipped")},
        **{n: iso(data.get(n)) for n in ("created_at", "started_at", "finished_at")},
        "results": admin_jobs.results(ops.r, job_id),
        "results_truncated": int(data.get("processed") or 0) > admin_jobs.RESULTS_KEPT,
    }


def run_replay(job_id: str) -> dict[str, Any]:
    """The RQ entry point of a background replay (settings from the worker's environment)."""
    return execute_replay(_worker_ops(), job_id)


@functools.cache
def _worker_ops() -> Ops:
    settings = load_settings()
    return Ops(settings, connect(settings.redis_url, settings.redis_sentinel))
