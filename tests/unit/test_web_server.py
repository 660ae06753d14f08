"""The gunicorn worker of `zeeg-consumer web` (consumer/web/server.py)."""

from __future__ import annotations

import gc

import pytest
from gunicorn.workers import gthread  # type: ignore[import-untyped]

from consumer.web.server import DeadlineThreadWorker


def test_a_web_worker_freezes_what_it_loaded_out_of_the_collectors_sight(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """After loading the app, a full collection no longer rescans it (gc.freeze)."""
    loaded: list[str] = []
    monkeypatch.setattr(gthread.ThreadWorker, "load_wsgi", lambda self: loaded.append("app"))
    worker = object.__new__(DeadlineThreadWorker)  # its loading only: no gunicorn arbiter
    gc.unfreeze()
    try:
        worker.load_wsgi()
        assert loaded == ["app"]
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
