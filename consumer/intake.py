"""The intake service: every event comes in here, whether from a webhook, a manual erase or
a late link, and is accepted in one transaction (dedupe key, stored event, event log entry,
its external id's index entry and RQ job, all or none).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import struct
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import redis
from redis._parsers.encoders import Encoder
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


# KEYS[1]: the dedupe key, KEYS[2]: the event hash. ARGV[1..3]: the writes of a new event,
# its metrics and a duplicate's metrics, each one MessagePack array of words (script_args)
# in which a command is its length then its words; ARGV[4..5]: the dedupe window and now
# (store.dedupe.CHECK). (Three arguments instead of about 170: redis-py packs each
# argument in Python, word by word, which was the largest cost of a webhook; cmsgpack
# unpacks them in C.) Returns the earlier job id of a duplicate, else runs every write and
# returns false. A script is atomic, and a full Redis refuses its first write, so it writes
# all or nothing. Metrics go through pcall: a metrics write refused (a full Redis) never
# changes the answer.
_WRITE_IF_NEW = (
    """
local function run(packed, call)
  local words = cmsgpack.unpack(packed)
  local i = 1
  while i <= #words do
    local n = tonumber(words[i])
    call(unpack(words, i + 1, i + n))
    i = i + n + 1
  end
end
"""
    + dedupe.CHECK
    + """
if existing then
  run(ARGV[3], redis.pcall)
  return existing
end
run(ARGV[1], redis.call)
run(ARGV[2], redis.pcall)
return false
"""
)
# MessagePack's array 32 and str 32 headers: one size of header whatever the length.
_ARRAY, _STR = b"\xdd", b"\xdb"
_U32 = struct.Struct(">I").pack


def _words(pipe: Pipeline) -> list[EncodableT]:
    """The commands a recording pipeline holds, each as its length then its words."""
    words: list[EncodableT] = []
    for args, _options in pipe.command_stack:
        words += [len(args), *args]
    return words


def script_args(encoder: Encoder, *groups: list[EncodableT]) -> list[bytes]:
    """_WRITE_IF_NEW's ARGV for groups of words (writes, new metrics, duplicate metrics).

    Each word is the bytes the client's encoder makes of it (its encoding for a str, the
    encoder itself for anything else), as when it was a command argument of its own.
    """
    encoding, errors = encoder.encoding, encoder.encoding_errors
    encode: Callable[[EncodableT], bytes] = encoder.encode  # untyped in redis-py
    args = []
    for words in groups:
        data = [
            w.encode(encoding, errors) if type(w) is str else w if type(w) is bytes else encode(w)
            for w in words
        ]
        args.append(b"".join([_ARRAY + _U32(len(data)), *[_STR + _U32(len(w)) + w for w in data]]))
    return args


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
    groups = _words(writes), _words(on_new), _words(on_duplicate)
    args: list[EncodableT] = [*script_args(r.get_encoder(), *groups), window, now]
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
