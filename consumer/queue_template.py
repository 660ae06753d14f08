"""An erasure job's RQ writes, built by RQ once per queue and job timeout, then per job only
what differs: its id, times, description and call data.

RQ's Queue.enqueue builds a Job object, resolves its serializer, parses every option and
writes the hash field by field: 70-80 us per job, about a third of a webhook's Python in
place (docs/benchmarks.md). The function, queue, timeouts, TTLs and retry never change between
erasure jobs, so consumer.queue.enqueue (RQ's own code) records the writes of one job, and
each later job copies them with its own values in the places that differ. A template is used
only after it has rebuilt a second job RQ wrote, word for word; if RQ ever writes a job that
the template cannot rebuild, every job goes through RQ's enqueue as before.
"""

from __future__ import annotations

import functools
import logging
import zlib
from dataclasses import dataclass
from typing import Any

from redis.client import Pipeline
from rq.serializers import JSONSerializer
from rq.utils import now, utcformat

from consumer.queue import JOB_FUNC, Queue, enqueue, job_key

log = logging.getLogger(__name__)

# What differs between two erasure jobs; the placeholders are found by these values in the
# writes RQ records for a sample job (ids of RQ's own form: 32 hex digits).
_SAMPLES = (
    ("sample-source-a", "sample-event-a", "0a" * 16),
    ("sample-source-b", "sample-event-b", "0b" * 16),
)
Values = dict[str, Any]
Command = tuple[tuple[Any, ...], dict[str, Any]]


def _values(source: str, event_id: str, job_id: str, at: str) -> Values:
    """Each part of a job's writes that differs from job to job, as RQ writes it."""
    call: bytes = JSONSerializer.dumps((JOB_FUNC, None, (source, event_id), {}))  # type: ignore[no-untyped-call]  # rq leaves it untyped
    return {
        "key": job_key(job_id),
        "id": job_id,
        "at": at,
        "data": zlib.compress(call),
        "description": f"erase {source}/{event_id}",
    }


@dataclass(frozen=True)
class Template:
    """Recorded writes in which each word that differs between jobs is a placeholder."""

    commands: list[tuple[tuple[Any, ...], dict[str, Any], tuple[tuple[int, str], ...]]]

    def write(self, pipe: Pipeline, values: Values) -> None:
        """Queue the writes of one job on pipe, as RQ's enqueue would have."""
        for words, options, slots in self.commands:
            filled = list(words)
            for index, name in slots:
                filled[index] = values[name]
            pipe.command_stack.append((tuple(filled), dict(options)))


def _recorded(queue: Queue, source: str, event_id: str, job_id: str, timeout: int) -> list[Command]:
    """The writes RQ's enqueue records for one job (nothing is sent)."""
    pipe = queue.connection.pipeline()
    pipe.multi()
    enqueue(queue, source, event_id, job_id, timeout, pipe)
    return list(pipe.command_stack)


def _at(commands: list[Command], job_id: str) -> str | None:
    """The enqueued_at time RQ wrote in the job's hash (the template writes it for both)."""
    for words, _options in commands:
        if words[0] == "HSET" and words[1] == job_key(job_id) and "enqueued_at" in words:
            return str(words[words.index("enqueued_at") + 1])
    return None


def _created_at(words: tuple[Any, ...]) -> set[int]:
    """Where RQ's created_at is in a command: the template writes enqueued_at there."""
    # RQ takes the time twice, microseconds apart; one time for both saves a clock read.
    return {i for i in range(1, len(words)) if words[i - 1] == "created_at"}


def _template(commands: list[Command], values: Values) -> Template:
    """commands with each word equal to one of values (or RQ's created_at) as its placeholder."""
    by_word = {repr(v): k for k, v in values.items()}
    out = []
    for words, options in commands:
        stamped = _created_at(words)
        slots = []
        for i, word in enumerate(words):
            name = by_word.get(repr(word)) or ("at" if i in stamped else None)
            if name is not None:
                slots.append((i, name))
        out.append((tuple(words), dict(options), tuple(slots)))
    return Template(out)


def _normalised(commands: list[Command], at: str) -> list[Command]:
    """commands with RQ's created_at set to enqueued_at, as the template writes both."""
    out = []
    for words, options in commands:
        stamped = _created_at(words)
        out.append((tuple(at if i in stamped else w for i, w in enumerate(words)), options))
    return out


@functools.lru_cache(maxsize=32)
def template(queue: Queue, timeout: int) -> Template | None:
    """The checked template of queue's erasure jobs, None if it cannot rebuild RQ's writes."""
    (source_a, event_a, id_a), (source_b, event_b, id_b) = _SAMPLES
    first = _recorded(queue, source_a, event_a, id_a, timeout)
    second = _recorded(queue, source_b, event_b, id_b, timeout)
    at_first, at = _at(first, id_a), _at(second, id_b)
    if at_first is not None and at is not None:
        built = _template(first, _values(source_a, event_a, id_a, at_first))
        pipe = queue.connection.pipeline()
        built.write(pipe, _values(source_b, event_b, id_b, at))
        if pipe.command_stack == _normalised(second, at):
            return built
    log.warning("RQ's job writes changed shape: erasure jobs go through RQ's enqueue")
    return None


def enqueue_erasure(
    queue: Queue, source: str, event_id: str, job_id: str, timeout: int, pipe: Pipeline
) -> None:
    """Queue on pipe (MULTI open) the writes of an erasure job, as consumer.queue.enqueue does."""
    built = template(queue, timeout)
    if built is None:
        enqueue(queue, source, event_id, job_id, timeout, pipe)
        return
    built.write(pipe, _values(source, event_id, job_id, utcformat(now())))
