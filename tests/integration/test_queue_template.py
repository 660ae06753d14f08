"""Erasure jobs from a template (queue_template.py): RQ's own writes, word for word."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from redis.client import Pipeline

from consumer import queue_template
from consumer.queue import enqueue, erasure_queue, job_key
from consumer.store.connection import Connections


@pytest.fixture(autouse=True)
def fresh_templates() -> Iterator[None]:
    """Every test builds its own template."""
    queue_template.template.cache_clear()
    yield
    queue_template.template.cache_clear()


def _recording(conns: Connections) -> Pipeline:
    pipe = conns.raw.pipeline()
    pipe.multi()
    return pipe


def _times_as_one(commands: list[Any]) -> list[Any]:
    """The writes with created_at and enqueued_at blanked (RQ takes the time twice)."""
    out = []
    for words, options in commands:
        stamped = {i + 1 for i, w in enumerate(words) if w in ("created_at", "enqueued_at")}
        out.append((tuple("-" if i in stamped else w for i, w in enumerate(words)), options))
    return out


@pytest.mark.parametrize(
    ("source", "event_id", "job_id"),
    [
        ("userdb", "evt-1", "0123456789abcdef0123456789abcdef"),
        ("clerk", "msg_2Lh9" + "x" * 200, "f" * 32),
        ("okta", "ev:ünïcode/1", "a1" * 16),
    ],
)
def test_the_template_writes_what_rqs_enqueue_writes(
    conns: Connections, source: str, event_id: str, job_id: str
) -> None:
    """The same commands, in the same order, with the same words (times aside)."""
    queue = erasure_queue(conns.raw)
    by_rq, by_template = _recording(conns), _recording(conns)
    enqueue(queue, source, event_id, job_id, 90, by_rq)
    queue_template.enqueue_erasure(queue, source, event_id, job_id, 90, by_template)
    assert queue_template.template(queue, 90) is not None
    assert _times_as_one(by_template.command_stack) == _times_as_one(by_rq.command_stack)


def test_a_template_that_cannot_rebuild_rqs_writes_is_never_used(
    conns: Connections, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """If RQ wrote a job the template does not rebuild, RQ's own enqueue writes every job."""
    real = queue_template._values
    monkeypatch.setattr(
        queue_template, "_values", lambda *a: {**real(*a), "description": "not RQ's"}
    )
    queue = erasure_queue(conns.raw)
    by_rq, fallback = _recording(conns), _recording(conns)
    enqueue(queue, "userdb", "evt-1", "c" * 32, 60, by_rq)
    queue_template.enqueue_erasure(queue, "userdb", "evt-1", "c" * 32, 60, fallback)
    assert queue_template.template(queue, 60) is None
    assert "erasure jobs go through RQ's enqueue" in caplog.text
    assert _times_as_one(fallback.command_stack) == _times_as_one(by_rq.command_stack)


def test_jobs_written_without_an_enqueued_at_turn_the_template_off(
    conns: Connections, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A job hash of another shape (no enqueued_at to find) is RQ's to write, not an error."""
    monkeypatch.setattr(queue_template, "_at", lambda commands, job_id: None)
    queue = erasure_queue(conns.raw)
    by_rq, fallback = _recording(conns), _recording(conns)
    enqueue(queue, "userdb", "evt-1", "d" * 32, 60, by_rq)
    queue_template.enqueue_erasure(queue, "userdb", "evt-1", "d" * 32, 60, fallback)
    assert queue_template.template(queue, 60) is None
    assert _times_as_one(fallback.command_stack) == _times_as_one(by_rq.command_stack)


def test_a_templated_job_is_created_when_it_is_enqueued(conns: Connections) -> None:
    """RQ's created_at is written as the job's enqueued_at, in the hash RQ reads back."""
    queue = erasure_queue(conns.raw)
    pipe = conns.raw.pipeline()
    queue_template.enqueue_erasure(queue, "userdb", "evt-1", "e" * 32, 60, pipe)
    pipe.execute()
    assert queue_template.template(queue, 60) is not None  # the template wrote it
    created, enqueued = conns.raw.hmget(job_key("e" * 32), "created_at", "enqueued_at")
    assert created is not None and created == enqueued
