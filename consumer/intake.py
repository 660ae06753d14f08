"""The intake service: every event comes in here, whether from a webhook, a manual erase or
a late link, and is accepted in one transaction (dedupe key, stored event, event log entry,
its external id's index entry and RQ job, all or none).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import redis
from redis.client import Pipeline
from redis.commands.core import Script
from redis.typing import EncodableT

from consumer.logs import fields
from consumer.models import Mapping, ParsedEvent, check_external_id
from consumer.queue import Queue
from consumer.queue_template import enqueue_erasure
from consumer.settings import Settings, SourceConfig
from consumer.store import dedupe, events, index, keys, mappings, metrics
from consumer.store.connection import replicas_to_wait, run_replicated

log = logging.getLogger(__name__)

MANUAL_ERASE = "manual.erase"
# A mapping registered for a tombstoned external id: the erasure of that one record.
LATE_LINK = "mapping.late_link"


@dataclass(frozen=True)
class IntakeResult:
    """accepted (a new job) or duplicate (the job of the earlier delivery)."""

    status: str
    event_id: str
    job_id: str

    def answer(self) -> dict[str, str]:
        """The webhook's JSON answer for this event (the view's and the fast path's)."""
        return {"status": self.status, "event_id": self.event_id, "job_id": self.job_id}


# Records the metrics of an answer ("accepted" or "duplicate") on a pipeline that is never
# executed: the intake script runs them, so they cost no round trip of their own.
Tally = Callable[[Pipeline, str], None]


def accept(
    r: redis.Redis,
    queue: Queue,
    event: ParsedEvent,
    *,
    now: float,
    dedupe_ttl_days: float,
    retention_days: float,
    job_timeout: int,
    tally: Tally | None = None,
    replicas: int = 0,
) -> IntakeResult:
    """Store and enqueue event unless (source, event_id) was accepted before.

    tally adds the caller's metrics (a webhook's answer, its intake latency) to the script;
    replicas > 0: answered only once that many replicas hold the write (or the primary is
    confirmed by Sentinel: store.connection.run_replicated).
    """
    job_id = uuid.uuid4().hex
    # The event hash is the duplicate marker while it outlives the window (store.dedupe).
    window = dedupe.window(dedupe_ttl_days, retention_days)
    days = (0 if window else dedupe_ttl_days, retention_days)
    writes = _writes(r, queue, event, job_id, (now, *days), job_timeout)
    counted = {status: r.pipeline() for status in ("accepted", "duplicate")}
    metrics.incr(counted["duplicate"], metrics.DUPLICATES, source=event.source)
    for status, pipe in counted.items():
        if tally is not None:
            tally(pipe, status)
    existing = _write_if_new(
        r,
        [keys.dedupe(event.source, event.event_id), keys.event(event.source, event.event_id)],
        writes,
        (counted["accepted"], counted["duplicate"]),
        (window, repr(now), replicas),
    )
    if existing is not None:
        return _logged(event, IntakeResult("duplicate", event.event_id, existing))
    return _logged(event, IntakeResult("accepted", event.event_id, job_id))


def _writes(
    r: redis.Redis,
    queue: Queue,
    event: ParsedEvent,
    job_id: str,
    times: tuple[float, float, float],
    job_timeout: int,
) -> Pipeline:
    """A new event's writes (RQ's from queue_template.py among them) on a pipeline that only
    records; times: now, the dedupe key's days (0: no key), the retention's."""
    now, dedupe_days, retention_days = times
    writes = r.pipeline()
    writes.multi()  # as RQ expects of a caller's pipeline; nothing is sent
    if dedupe_days:
        writes.set(
            keys.dedupe(event.source, event.event_id), job_id, ex=int(dedupe_days * dedupe.DAY)
        )
    # The first write must be one a full Redis refuses (ZADD, SET; not DEL): once a script
    # has written, Redis lets it write on past maxmemory, and all or nothing would not hold.
    index.add_event(writes, event.source, event.external_id, event.event_id, now, retention_days)
    events.write_new(writes, event, job_id, now, retention_days)
    enqueue_erasure(queue, event.source, event.event_id, job_id, job_timeout, writes)
    return writes


def _logged(event: ParsedEvent, result: IntakeResult) -> IntakeResult:
    """The answer, logged with the event's fields."""
    log.info(
        "event %s/%s %s (job %s)",
        event.source,
        event.event_id,
        result.status,
        result.job_id,
        extra=fields(event.source, event.event_id, result.job_id, result.status),
    )
    return result


# KEYS[1]: the dedupe key, KEYS[2]: the event hash. ARGV: how many words the writes of a
# new event are, how many its metrics are, the dedupe window and now (store.dedupe.CHECK),
# then the words of the writes, of those metrics and of a duplicate's metrics, in which a
# command is its length then its words (script_args). (Each word is an argument of its own,
# which redis-py packs in C with hiredis; the Python packer, word by word, was once the
# largest cost of a webhook.) Returns the earlier job id of a duplicate, else runs every
# write and returns false. A script is atomic, and a full Redis refuses its first write, so
# it writes all or nothing. Metrics go through pcall: a metrics write refused (a full Redis)
# never changes the answer.
_WRITE_IF_NEW = (
    """
local function run(first, last, call)
  local i = first
  while i <= last do
    local n = tonumber(ARGV[i])
    call(unpack(ARGV, i + 1, i + n))
    i = i + n + 1
  end
end
local writes, metrics = tonumber(ARGV[1]), tonumber(ARGV[2])
"""
    + dedupe.CHECK
    + """
if existing then
  run(5 + writes + metrics, #ARGV, redis.pcall)
  return existing
end
run(5, 4 + writes, redis.call)
run(5 + writes, 4 + writes + metrics, redis.pcall)
return false
"""
)


def _words(pipe: Pipeline) -> list[EncodableT]:
    """The commands a recording pipeline holds, each as its length then its words."""
    words: list[EncodableT] = []
    for args, _options in pipe.command_stack:
        words += [len(args), *args]
    return words


def script_args(
    writes: list[EncodableT],
    on_new: list[EncodableT],
    on_duplicate: list[EncodableT],
    window: int = 0,
    now: str | float = 0,
) -> list[EncodableT]:
    """_WRITE_IF_NEW's ARGV for the words of the writes, new metrics and duplicate metrics,
    with the dedupe window (0: the dedupe key alone dedupes) and now (store.dedupe.CHECK)."""
    return [len(writes), len(on_new), window, now, *writes, *on_new, *on_duplicate]


@functools.lru_cache(maxsize=16)
def _script(r: redis.Redis) -> Script:
    """_WRITE_IF_NEW registered on r once (its SHA1 is computed when it is registered)."""
    return r.register_script(_WRITE_IF_NEW)


def _write_if_new(
    r: redis.Redis,
    script_keys: list[str],
    writes: Pipeline,
    metrics_of: tuple[Pipeline, Pipeline],
    how: tuple[int, str, int],
) -> str | None:
    """Run the recorded writes and the new event's metrics in one round trip unless it is a
    duplicate: then its metrics, and the earlier job id is returned. script_keys: the dedupe
    key, the event hash; how: the window (0: the key alone dedupes), now, replicas."""
    on_new, on_duplicate = metrics_of
    window, now, replicas = how
    args = script_args(_words(writes), _words(on_new), _words(on_duplicate), window, now)
    existing = run_replicated(r, _script(r), script_keys, args, replicas)
    if isinstance(existing, bytes):
        return existing.decode()
    return None if existing is None else str(existing)


def manual_event(source: SourceConfig, external_id: str, now: float) -> ParsedEvent:
    """A deletion built by hand: a manual-<uuid> id and every target of the source.

    Raises InvalidIdentifier for an external id that is not one.
    """
    return ParsedEvent(
        source=source.name,
        event_id=f"manual-{uuid.uuid4()}",
        event_type=MANUAL_ERASE,
        external_id=check_external_id(external_id),
        occurred_at=now,
        targets=tuple(t.object for t in source.targets),
    )


def late_link_event(m: Mapping, deleted_at: float) -> ParsedEvent:
    """The erasure of the one record m links to an external id deleted at deleted_at.

    Its id is derived from the link and the deletion, so the same late link is one event.
    """
    fields = [m.source, m.object, m.external_id, m.record_id, repr(deleted_at)]
    digest = hashlib.sha256("\n".join(fields).encode()).hexdigest()
    return ParsedEvent(
        source=m.source,
        event_id=f"late-link-{digest[:32]}",
        event_type=LATE_LINK,
        external_id=m.external_id,
        # The deletion's time: the stale guard then spares links made after it.
        occurred_at=deleted_at,
        targets=(m.object,),
        hints={m.object: (m.record_id,)},
    )


@dataclass(frozen=True)
class Intake:
    """The intake service on one Redis and queue, with the settings' dedupe and retention."""

    r: redis.Redis
    queue: Queue
    settings: Settings

    def accept(self, event: ParsedEvent, now: float, tally: Tally | None = None) -> IntakeResult:
        """accept() with the dedupe, retention and job timeout the settings give."""
        return accept(
            self.r,
            self.queue,
            event,
            now=now,
            dedupe_ttl_days=self.settings.intake.dedupe_ttl_days,
            retention_days=self.settings.intake.event_log_retention_days,
            job_timeout=self.settings.delivery.job_timeout_seconds,
            tally=tally,
            replicas=replicas_to_wait(self.settings.redis_sentinel),
        )

    def accept_manual(
        self, source: SourceConfig, external_id: str, now: float
    ) -> tuple[ParsedEvent, IntakeResult]:
        """Accept a manual deletion of external_id for every target of the source."""
        event = manual_event(source, external_id, now)
        return event, self.accept(event, now)

    def accept_late_link(self, m: Mapping, deleted_at: float, now: float) -> IntakeResult:
        """Accept the erasure of one record linked to a tombstoned external id."""
        event = late_link_event(m, deleted_at)
        result = self.accept(event, now)
        log.info(
            "late link %s/%s: erasure %s (%s)",
            m.source,
            m.object,
            result.event_id,
            result.status,
            extra=fields(m.source, result.event_id, result.job_id, result.status),
        )
        if result.status == "duplicate" and mappings.is_erased(self.r, m.object, m.record_id):
            # This erasure already ran and the record is gone: a re-imported link to it goes too.
            mappings.remove(self.r, m.source, m.object, m.external_id, m.record_id)
        return result
