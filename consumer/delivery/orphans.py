"""The orphan sweep: unfinished events whose RQ job is alive nowhere get one new job.

A Sentinel failover can promote a replica that lacks a job's last moves (a worker's BLMOVE,
its registry writes); an operator's FLUSH of a queue or a restore from an older AOF loses
jobs too. The event is kept but waits forever. Each worker's maintenance calls sweep(): the
oldest pending events idle for [delivery] orphan_after_seconds are looked at, a bounded batch
per run, and one whose job is in no queue or registry and run by no worker is replayed
through ops.replay (its trail says why). Guards, each against a way of being wrong:
- the liveness reads of a batch run in one MULTI, so a job RQ moves atomically between two
  places is seen in one of them;
- an orphan is re-enqueued only when seen so twice, CONFIRM_SECONDS apart with the same job
  id, which covers RQ's few moves in two steps (a scheduled job's requeue: ZREM, then LPUSH);
- a job whose start a failover lost is still being run if its heartbeat (job hash or
  execution hash, which RQ's heartbeat recreates) is fresh: such a job is left alone;
- one worker sweeps at a time (a lock key), and replay_one WATCHes the event and its job, so
  two sweeps never enqueue twice.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import redis
from redis.exceptions import WatchError
from rq.exceptions import DeserializationError

from consumer.delivery import liveness
from consumer.logs import fields
from consumer.models import EventStatus, stored_seconds
from consumer.ops import Ops
from consumer.ops import replay as rp
from consumer.queue import Queue, delete, fetch, job_key
from consumer.settings import Settings
from consumer.store import events, keys, metrics
from consumer.store.connection import Connections

log = logging.getLogger(__name__)

BATCH = 200  # pending events looked at per sweep
REQUEUE_LIMIT = 50  # orphans re-enqueued per sweep at most
CONFIRM_SECONDS = 1.0  # between the two sightings of an orphan
SEEN_SECONDS = 3600  # a first sighting older than this is forgotten (looked at afresh)
LOCK_SECONDS = 60  # a sweep cut short (its worker killed) frees the lock this much later
BY = "orphan-sweep"
REASON = "orphaned job re-enqueued by the sweep"
# An event in any of these waits for a job; DONE and FAILED (kept pending, visibly) do not.
WAITING = frozenset(
    {
        EventStatus.QUEUED,
        EventStatus.RETRYING,
        EventStatus.AUTH_PAUSED,
        EventStatus.RATE_LIMITED,
        EventStatus.RUNNING,
    }
)
_NEEDED = ("source", "event_id", "external_id", "received_at", "status", "job_id")
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end"


@dataclass(frozen=True)
class Suspect:
    """A pending event idle past the threshold: its stored hash and its job id."""

    member: str
    data: dict[str, str]

    @property
    def job_id(self) -> str:
        """The id of the job the event waits for."""
        return self.data["job_id"]


def with_sweep(
    housekeeping: Callable[[], None] | None, text: redis.Redis, queue: Queue, settings: Settings
) -> Callable[[], None]:
    """housekeeping (if any) preceded by an orphan sweep on text and queue's Redis."""
    conns = Connections(text, queue.connection)

    def both() -> None:
        sweep(conns, settings)
        if housekeeping is not None:
            housekeeping()

    return both


def sweep(conns: Connections, settings: Settings, now: float | None = None) -> int:
    """Re-enqueue the confirmed orphans of one batch; how many. Never raises a Redis error."""
    threshold = settings.delivery.orphan_after_seconds
    if threshold <= 0:
        return 0
    at = time.time() if now is None else now
    token = uuid.uuid4().hex
    try:
        if not conns.text.set(keys.ORPHAN_LOCK, token, nx=True, ex=LOCK_SECONDS):
            return 0  # another worker sweeps now
        try:
            return _sweep(Ops(settings, conns, clock=lambda: at), at, threshold)
        finally:
            conns.text.eval(_RELEASE, 1, keys.ORPHAN_LOCK, token)
    except redis.exceptions.RedisError as e:  # the next maintenance sweeps again
        log.warning("orphan sweep skipped: %s", type(e).__name__)
        return 0


def _sweep(ops: Ops, now: float, threshold: float) -> int:
    """One batch: the idle suspects, those alive nowhere, the confirmed ones replayed."""
    suspects = _idle(ops.r, _batch(ops.r, now - threshold), now - threshold)
    dead = _alive_nowhere(ops, suspects, now)
    confirmed = _confirmed(ops.r, dead, now)[:REQUEUE_LIMIT]
    if confirmed:  # rare: a full scan of the execution hashes only when there is one
        running = liveness.executed_job_ids(ops.conns.raw)
        confirmed = [s for s in confirmed if s.job_id not in running]
    return sum(_requeue(ops, s) for s in confirmed)


def _batch(r: redis.Redis, cutoff: float) -> list[str]:
    """The next BATCH pending members received before cutoff, oldest first, from the cursor.

    The cursor moves on, so events that are waiting rightly at the head (a long pause) do
    not hide the ones behind them; at the end it starts again from the oldest.
    """
    raw = r.get(keys.ORPHAN_CURSOR)
    start = int(raw) if raw and raw.isdigit() else 0
    found: list[str] = r.zrangebyscore(keys.PENDING, "-inf", cutoff, start=start, num=BATCH)  # type: ignore[assignment]
    if not found and start:
        start, found = 0, r.zrangebyscore(keys.PENDING, "-inf", cutoff, start=0, num=BATCH)  # type: ignore[assignment]
    r.set(keys.ORPHAN_CURSOR, start + len(found) if len(found) == BATCH else 0)
    return found


def _idle(r: redis.Redis, members: list[str], cutoff: float) -> list[Suspect]:
    """The members waiting for a job whose event hash is whole and trail quiet since cutoff."""
    with r.pipeline(transaction=False) as pipe:
        for member in members:
            source, _, event_id = member.partition(":")
            pipe.hgetall(keys.event(source, event_id))
            pipe.lindex(keys.trail(source, event_id), -1)
        replies = pipe.execute(raise_on_error=False)  # a key of another type: that event only
    found = []
    for member, data, last in zip(members, replies[::2], replies[1::2], strict=True):
        if not data:
            continue  # past retention: the trim drops its pending entry
        if isinstance(data, dict):  # the fields a 0.3.0 hash leaves out (its key names them)
            data = events.complete(data, *member.partition(":")[::2])
        if (
            isinstance(data, Exception)
            or isinstance(last, Exception)
            or any(not data.get(f) for f in _NEEDED)
            or events.pending_member(data["source"], data["event_id"]) != member
        ):
            log.warning("orphan sweep: event %s is incomplete, skipped", member[:200])
            continue
        if data["status"] in WAITING and _last_activity(data, last) < cutoff:
            found.append(Suspect(member, data))
    return found


def _last_activity(data: dict[str, str], last_entry: str | None) -> float:
    """When the event last moved: its newest trail entry, else its receipt."""
    try:
        at = json.loads(last_entry)["at"] if last_entry else data["received_at"]
        return float(at)
    except (ValueError, TypeError, KeyError):
        return float("inf")  # unreadable: never taken for idle


def _alive_nowhere(ops: Ops, suspects: list[Suspect], now: float) -> list[Suspect]:
    """The suspects whose job is alive nowhere; a sighting of one found alive is forgotten."""
    d = ops.settings.delivery
    wanted = [
        liveness.Wanted(
            keys.event(s.data["source"], s.data["event_id"]), s.data["status"], s.job_id
        )
        for s in suspects
    ]
    verdicts = liveness.where(
        ops.conns.raw, ops.queue, wanted, now, d.job_heartbeat_seconds + d.heartbeat_grace_seconds
    )
    for s, v in zip(suspects, verdicts, strict=True):
        if v == liveness.Verdict.UNREADABLE:
            log.warning("orphan sweep: job %s of %s is unreadable, skipped", s.job_id, s.member)
    alive = [s for s, v in zip(suspects, verdicts, strict=True) if v == liveness.Verdict.ALIVE]
    if alive:
        ops.r.delete(*(keys.orphan_seen(s.data["source"], s.data["event_id"]) for s in alive))
    return [s for s, v in zip(suspects, verdicts, strict=True) if v == liveness.Verdict.NOWHERE]


def _confirmed(r: redis.Redis, dead: list[Suspect], now: float) -> list[Suspect]:
    """The dead suspects already seen dead with the same job CONFIRM_SECONDS ago; the others
    are noted as first seen now."""
    if not dead:
        return []
    seen_keys = [keys.orphan_seen(s.data["source"], s.data["event_id"]) for s in dead]
    seen = r.mget(seen_keys)
    found = []
    with r.pipeline(transaction=False) as pipe:
        for s, key, value in zip(dead, seen_keys, seen, strict=True):
            job, _, first = str(value or "").partition(" ")
            seen_at = stored_seconds(first)
            if job == s.job_id and seen_at is not None and seen_at <= now - CONFIRM_SECONDS:
                found.append(s)
            elif job != s.job_id or not first:
                pipe.set(key, f"{s.job_id} {now!r}", ex=SEEN_SECONDS)
        pipe.execute()
    return found


def _requeue(ops: Ops, s: Suspect) -> int:
    """Replay a confirmed orphan (1), or skip it with the reason logged (0)."""
    source, event_id = s.data["source"], s.data["event_id"]
    try:
        job = fetch(ops.queue, s.job_id)
        if job is not None and job.status == "started" and not _drop_dead_start(ops, s):
            return 0
        result = rp.replay_one(ops, s.data, by=BY, reason=REASON)
    except (DeserializationError, ValueError, TypeError) as e:
        log.warning(
            "orphan sweep: job %s of %s/%s does not decode (%s), skipped",
            s.job_id,
            source,
            event_id,
            type(e).__name__,
            extra=fields(source, event_id, s.job_id),
        )
        return 0
    if result["job_id"] is None:
        return 0  # it moved meanwhile: not an orphan after all
    metrics.incr(ops.r, metrics.ORPHANS_REQUEUED, job="missing" if job is None else "unqueued")
    ops.r.delete(keys.orphan_seen(source, event_id))
    log.info(
        "%s: %s/%s, job %s alive nowhere, new job %s",
        REASON,
        source,
        event_id,
        s.job_id,
        result["job_id"],
        extra=fields(source, event_id, result["job_id"], "orphan_requeued"),
    )
    return 1


def _drop_dead_start(ops: Ops, s: Suspect) -> bool:
    """Delete a job whose hash says started but that nothing runs (its run's registry entry
    and heartbeats are gone), so the replay may replace it; False if anything moved since."""
    with ops.conns.raw.pipeline() as pipe:
        try:
            state = events.watch_state(
                pipe, s.data["source"], s.data["event_id"], job_key(s.job_id)
            )
            job = fetch(ops.queue, s.job_id)  # read after the WATCH: a change voids the EXEC
            if state != [s.data["status"], s.job_id] or job is None or job.status != "started":
                return False
            pipe.multi()
            delete(job, pipe)
            pipe.execute()
        except WatchError:
            return False
    return True
